"""The web page: `GET /` serves index.html; its script and stylesheet are under `/ui/`.

Static files only (no build step); the page talks to the /v1 API with the API key
the user types (kept in sessionStorage). Its Content-Security-Policy lets it load and
connect to nothing but this server (blob: images are the benchmark plot, fetched with
the key and shown from memory).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

UI_DIR = Path(__file__).resolve().parent
ASSET_SUFFIXES = {".html", ".js", ".css"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
           "X-Content-Type-Options": "nosniff"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(UI_DIR / "index.html", media_type="text/html", headers=HEADERS)


class UIFiles(StaticFiles):
    """The page's assets (.html, .js, .css: not this module's source), revalidated on each
    load so an upgrade shows at once."""

    async def get_response(self, path, scope):  # noqa: ANN001, ANN201 - StaticFiles' signature
        if Path(path).suffix not in ASSET_SUFFIXES or "/" in path.replace("\\", "/"):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


def static_files() -> StaticFiles:
    return UIFiles(directory=UI_DIR)
