"""The web page at / in a real headless Chromium (Debian's chromium + chromium-driver)
against a real uvicorn server on loopback: upload two files and watch the job finish,
ask and open a citation at its highlighted span, delete a document, draw the KG trace,
show a benchmark's table and recall plot; screenshots go to
tests/artifacts/ui/ (git-ignored), and the network log must show no request leaving
the server's origin."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from rag.service.core import RagService
from rag.settings import Settings
from tests.api.conftest import LiveServer, unique_name, upload_json

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"

if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
    REASON = (f"!!! BROWSER TEST NOT RUN: {CHROMIUM} or {CHROMEDRIVER} is missing; install them "
              "with `apt-get install -y chromium chromium-driver` (make install tries) !!!")
    warnings.warn(REASON, stacklevel=1)
    pytest.skip(REASON, allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

FILES = {
    "eiffel.txt": "The Eiffel Tower is a lattice tower in Paris. It is named after the engineer "
                  "Gustave Eiffel, whose company designed and built it. It opened in 1889.",
    "berlin.md": "# Berlin\n\nBerlin is the capital and largest city of Germany. The Spree "
                 "flows through it.",
}
QUESTION = "Who is the Eiffel Tower named after?"
BENCH_DATA = Path(__file__).resolve().parents[1] / "data" / "bench"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900"]


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def shot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def performance_log(driver) -> list[dict]:
    """Every DevTools message so far (get_log drains the log, so what was read is kept)."""
    seen = driver.__dict__.setdefault("_performance_log", [])
    seen.extend(json.loads(e["message"])["message"] for e in driver.get_log("performance"))
    return seen


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for, from Chromium's performance (DevTools network) log."""
    urls = []
    for message in performance_log(driver):
        if message["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            urls.append(message["params"].get("request", message["params"]).get("url"))
    return urls


def test_the_page_uploads_asks_cites_and_deletes(server, client, browser, tmp_path):
    wait = WebDriverWait(browser, 120)
    files = []
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        files.append(str(tmp_path / name))
    browser.get(f"{server.url}/")
    wait.until(EC.visibility_of_element_located((By.ID, "panel-collections")))
    assert browser.title == "ragmem"

    # a collection through the form; the tabs answer the arrow keys
    collection = unique_name("ui")
    browser.find_element(By.ID, "collection-name").send_keys(collection, Keys.ENTER)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR,
                                               f'#collection-rows tr[data-name="{collection}"]')))
    Select(browser.find_element(By.ID, "current-collection")).select_by_value(collection)
    shot(browser, "00-collections")
    browser.find_element(By.ID, "tab-collections").send_keys(Keys.ARROW_RIGHT)
    wait.until(EC.visibility_of_element_located((By.ID, "panel-documents")))
    assert browser.switch_to.active_element.get_attribute("id") == "tab-documents"

    # two files at once; the job's progress bar reaches done
    browser.find_element(By.ID, "file-input").send_keys("\n".join(files))
    wait.until(EC.text_to_be_present_in_element_attribute((By.ID, "job-state"), "data-status", "done"))
    assert browser.find_element(By.ID, "job-bar").get_attribute("aria-valuenow") == "100"
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#document-rows tr[data-id]")) == 2)
    wait.until(lambda d: all(p.text == "indexed"
                             for p in d.find_elements(By.CSS_SELECTOR, "#document-rows .pill")))
    listed = {d["id"]: d for d in client.get(f"/v1/collections/{collection}/documents").json()["documents"]}
    assert len(listed) == 2 and all(d["status"] == "indexed" for d in listed.values())
    shot(browser, "01-documents-uploaded")

    # ask: the answer streams in, citations become chips, the trace is shown
    browser.find_element(By.ID, "tab-ask").click()
    Select(browser.find_element(By.ID, "ask-retriever")).select_by_value("hybrid")
    browser.find_element(By.ID, "ask-question").send_keys(QUESTION)
    browser.find_element(By.ID, "ask-button").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#answer-text[data-done]")))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#trace .passages li")))
    answer = browser.find_element(By.ID, "answer-text").text
    assert "Gustave Eiffel" in answer
    # it came as a stream: the ask answered with text/event-stream, its text in token events
    streamed = [m["params"]["response"] for m in performance_log(browser)
                if m["method"] == "Network.responseReceived"
                and m["params"]["response"]["url"].endswith(f"/v1/collections/{collection}/ask")]
    assert streamed and all(r["mimeType"] == "text/event-stream" for r in streamed), streamed
    assert int(browser.find_element(By.ID, "answer-text").get_attribute("data-tokens")) >= 1
    trace_text = browser.find_element(By.ID, "trace").text
    assert "hybrid" in trace_text and "Latency (ms)" in trace_text
    chips = browser.find_elements(By.CSS_SELECTOR, "#citations .chip")
    assert chips
    shot(browser, "02-ask-answer-citations-trace")

    # a citation opens its document scrolled to the cited span, highlighted by its offsets
    chip = chips[0]
    doc_id, start, end = (chip.get_attribute(a) for a in ("data-doc", "data-start", "data-end"))
    chip.click()
    mark = wait.until(EC.visibility_of_element_located((By.ID, "cited-span")))
    text = client.get(f"/v1/collections/{collection}/documents/{doc_id}",
                      params={"text": "true"}).json()["text"]
    cited = client.post(f"/v1/collections/{collection}/ask",
                        json={"question": QUESTION, "retriever": "hybrid"}).json()["citations"][0]
    assert (cited["document_id"], cited["start"], cited["end"]) == (doc_id, int(start), int(end))
    assert mark.text == text[int(start):int(end)] == cited["text"]
    assert "Gustave Eiffel" in mark.text
    in_view = browser.execute_script(
        "const m = document.getElementById('cited-span').getBoundingClientRect();"
        "const p = document.getElementById('doc-text').getBoundingClientRect();"
        "return m.top >= p.top - 1 && m.bottom <= p.bottom + 1;")
    assert in_view, "the cited span is not scrolled into view"
    shot(browser, "03-citation-highlighted")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait.until(lambda d: not d.find_element(By.ID, "doc-dialog").get_attribute("open"))

    # delete a document: gone from the page and from the API
    browser.find_element(By.ID, "tab-documents").click()
    victim = next(i for i in listed if i != doc_id)
    victim_row = f'#document-rows tr[data-id="{victim}"]'
    # (the tab reloads its list as it opens: a row found early may be replaced; retry then)
    WebDriverWait(browser, 60, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f"{victim_row} button.delete-doc").click() or True)
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, victim_row))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#document-rows tr[data-id]"))
    remaining = [r.get_attribute("data-id")
                 for r in browser.find_elements(By.CSS_SELECTOR, "#document-rows tr[data-id]")]
    assert remaining == [doc_id]
    assert client.get(f"/v1/collections/{collection}/documents/{victim}").status_code == 404
    shot(browser, "04-document-deleted")

    browser.set_window_size(390, 844)  # phone width
    browser.find_element(By.ID, "tab-ask").click()
    shot(browser, "05-phone-ask")

    assert_stays_on(browser, server.url)
    assert_no_script_errors(browser)


def assert_stays_on(driver, url: str) -> None:
    """Nothing the page asked for left the server's origin (the network log since the last call)."""
    origin = urlsplit(url)
    urls = requested_urls(driver)
    assert any(u.startswith(f"{url}/v1/") for u in urls), urls
    # (chrome://, data:, blob:, about: are the browser's own, e.g. its new-tab page before
    # the first navigation, or the recall plot shown from memory; anything that goes over
    # a network must be to the server)
    network = [u for u in urls if urlsplit(u).scheme not in ("chrome", "data", "blob", "about")]
    outside = [u for u in network if urlsplit(u)[:2] != origin[:2]]
    assert not outside, f"requests left {url}: {outside}"


def assert_fits_width(driver) -> None:
    """The page does not scroll sideways (what is wider scrolls inside its own box)."""
    wide = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    over = driver.execute_script(
        "return Array.from(document.querySelectorAll('body *')).filter((e) => e.offsetParent"
        " && e.getBoundingClientRect().right > window.innerWidth + 1"
        " && !e.closest('.table-scroll, .kg-drawing'))"
        ".slice(-5).map((e) => e.tagName + '#' + e.id + '.' + e.className)")
    assert wide[0] <= wide[1], f"page is {wide[0]}px wide in a {wide[1]}px window: {over}"


def assert_no_script_errors(driver) -> None:
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


@pytest.fixture
def bench_server(tmp_path, embedder):
    """A server whose datasets folder holds the tiny multihop set as `tiny`."""
    shutil.copytree(BENCH_DATA, tmp_path / "datasets" / "multihop" / "tiny")
    settings = Settings(data_dir=tmp_path / "data", datasets_dir=tmp_path / "datasets")
    live = LiveServer(settings, RagService(settings, embedder=embedder)).start()
    yield live
    live.stop()


def test_the_page_compares_benchmarks_and_chats_in_a_session(bench_server, browser):
    import httpx

    wait = WebDriverWait(browser, 180)
    with httpx.Client(base_url=bench_server.url, timeout=60) as http:
        assert http.post("/v1/collections", json={"name": "kb"}).status_code == 201
        upload_json(http, "kb", [{"id": "eiffel", "title": "Eiffel Tower", "text": FILES["eiffel.txt"]},
                                 {"id": "berlin", "title": "Berlin", "text": FILES["berlin.md"]}])
    browser.get(f"{bench_server.url}/#compare")
    wait.until(EC.visibility_of_element_located((By.ID, "panel-compare")))
    wait.until(EC.text_to_be_present_in_element_value((By.ID, "current-collection"), "kb"))

    # compare: one question, three retrievers side by side
    browser.find_element(By.ID, "compare-question").send_keys(QUESTION, Keys.ENTER)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#compare-columns .column .passages")) == 3)
    columns = browser.find_elements(By.CSS_SELECTOR, "#compare-columns .column")
    assert [c.get_attribute("data-retriever") for c in columns] == ["bm25", "dense", "hybrid"]
    assert all("Gustave Eiffel" in c.text for c in columns)
    shot(browser, "06-compare")

    # benchmarks: start the named dataset, watch it, read the results table
    browser.find_element(By.ID, "tab-benchmarks").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#bench-dataset option[value="tiny"]')))
    browser.find_element(By.CSS_SELECTOR, "#bench-form button[type=submit]").click()
    table = wait.until(EC.visibility_of_element_located((By.ID, "bench-table")))
    rows = [r.find_element(By.TAG_NAME, "th").text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert sorted(rows) == ["bm25", "dense", "hybrid"]
    assert "R@5" in table.find_element(By.TAG_NAME, "thead").text
    assert browser.find_element(By.ID, "bench-state").get_attribute("data-status") == "done"
    # the report's recall plot, fetched by id and shown under the table
    wait.until(lambda d: d.execute_script(
        "const i = document.getElementById('bench-plot'); return i && i.complete && i.naturalWidth > 0;"))
    assert browser.find_element(By.ID, "bench-plot").get_attribute("src").startswith("blob:")
    browser.execute_script("document.getElementById('bench-plot').scrollIntoView({block: 'center'})")
    shot(browser, "07-benchmark-results")

    # sessions: a session on kb; the reply streams into the chat
    browser.find_element(By.ID, "tab-sessions").click()
    browser.find_element(By.ID, "session-name").send_keys("trip", Keys.ENTER)
    chat = wait.until(EC.element_to_be_clickable((By.ID, "chat-input")))
    chat.send_keys(QUESTION, Keys.ENTER)
    wait.until(lambda d: "Gustave Eiffel" in d.find_element(By.CSS_SELECTOR, "#chat-log li.assistant").text)
    with httpx.Client(base_url=bench_server.url, timeout=60) as http:
        session = http.get("/v1/sessions").json()["sessions"][0]
        messages = http.get(f"/v1/sessions/{session['id']}/messages").json()["messages"]
    assert session["name"] == "trip" and session["collection"] == "kb"
    assert [m["role"] for m in messages] == ["user", "assistant"]

    # core facts: pin two, edit one in place, unpin the other (checked through the API)
    for key, value in (("hotel", "the Ritz"), ("name", "Ada")):
        browser.find_element(By.ID, "core-key").send_keys(key)
        browser.find_element(By.ID, "core-value").send_keys(value, Keys.ENTER)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'#core-rows li[data-key="{key}"]')))
    edit = browser.find_element(By.CSS_SELECTOR, '#core-rows li[data-key="hotel"] input')
    edit.clear()
    edit.send_keys("the Savoy", Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Saved core fact hotel"))
    browser.find_element(By.CSS_SELECTOR, '#core-rows li[data-key="name"] button.core-delete').click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '#core-rows li[data-key="name"]'))
    # archival insert
    browser.find_element(By.ID, "archival-text").send_keys("My flight to Rome leaves from gate 42 at Orly.")
    browser.find_element(By.ID, "archival-add").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "archival-status"), "archival record"))
    record = browser.find_element(By.ID, "archival-status").get_attribute("data-id")
    with httpx.Client(base_url=bench_server.url, timeout=60) as http:
        assert http.get(f"/v1/sessions/{session['id']}/core").json()["core"] == {"hotel": "the Savoy"}
        found = http.get(f"/v1/sessions/{session['id']}/archival", params={"query": "flight gate"}).json()
    assert [str(r["id"]) for r in found["results"]][:1] == [record]

    # the next turn shows the context pieces it used: the core fact and the archival record
    browser.find_element(By.ID, "chat-input").send_keys("Which gate does my flight leave from?", Keys.ENTER)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chat-log li.assistant .turn-context")) == 2)
    context = browser.find_elements(By.CSS_SELECTOR, "#chat-log li.assistant .turn-context")[-1]
    context.find_element(By.TAG_NAME, "summary").click()
    tiers = {(p.get_attribute("data-tier"), p.get_attribute("data-source"))
             for p in context.find_elements(By.CSS_SELECTOR, ".pieces li[data-tier]")}
    assert ("core", "core") in tiers and ("archival", f"archival:{record}") in tiers, tiers
    assert "memory piece" in context.text
    shot(browser, "08-session-chat")
    browser.execute_script("document.getElementById('core-title').scrollIntoView({block: 'start'})")
    shot(browser, "08b-session-memory")

    # phone width: nothing wider than the screen (wide tables and the plot scroll or shrink)
    browser.set_window_size(390, 844)
    for tab in ("sessions", "benchmarks", "compare"):
        browser.find_element(By.ID, f"tab-{tab}").click()
        assert_fits_width(browser)
        shot(browser, f"13-phone-{tab}")
    assert_stays_on(browser, bench_server.url)
    assert_no_script_errors(browser)


def test_the_api_key_is_kept_in_session_storage_and_sent_as_bearer(auth_server, key_client, browser):
    wait = WebDriverWait(browser, 60)
    http = key_client("ui")
    name = unique_name("ui-auth")
    assert http.post("/v1/collections", json={"name": name}).status_code == 201
    browser.get(f"{auth_server.url}/")
    wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "401"))  # no key yet
    key = browser.find_element(By.ID, "api-key")
    key.send_keys(http.secret, Keys.TAB)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'#collection-rows tr[data-name="{name}"]')))
    assert browser.execute_script("return sessionStorage.getItem('ragmem.apiKey')") == http.secret
    sent = [json.loads(e["message"])["message"]["params"] for e in browser.get_log("performance")]
    bearer = [p for p in sent if p.get("request", {}).get("url", "").endswith("/v1/collections")
              and p["request"].get("headers", {}).get("Authorization") == f"Bearer {http.secret}"]
    assert bearer, "no /v1/collections request carried the key"
    browser.refresh()  # kept for the tab's session
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'#collection-rows tr[data-name="{name}"]')))
    assert browser.find_element(By.ID, "api-key").get_attribute("value") == http.secret


def ask_in_page(browser, wait, retriever: str, question: str = QUESTION) -> None:
    """Ask on the Ask tab with `retriever` and wait for the trace with ranked passages."""
    browser.find_element(By.ID, "tab-ask").click()
    Select(browser.find_element(By.ID, "ask-retriever")).select_by_value(retriever)
    box = browser.find_element(By.ID, "ask-question")
    box.clear()
    box.send_keys(question)
    browser.find_element(By.ID, "ask-button").click()
    wait.until(lambda d: d.find_element(By.ID, "answer-text").get_attribute("data-done")
               and d.find_elements(By.CSS_SELECTOR, "#trace .passages li")
               and retriever in d.find_element(By.CSS_SELECTOR, "#trace .kv").text)


def test_the_traces_draw_the_kg_walk_and_explain_fusion_crag_and_adaptive(bench_server, browser):
    import httpx

    wait = WebDriverWait(browser, 180)
    with httpx.Client(base_url=bench_server.url, timeout=120) as http:
        assert http.post("/v1/collections", json={"name": "graph"}).status_code == 201
        upload_json(http, "graph", [{"id": "eiffel", "title": "Eiffel Tower", "text": FILES["eiffel.txt"]},
                                    {"id": "berlin", "title": "Berlin", "text": FILES["berlin.md"]}])
        expected = http.post("/v1/collections/graph/retrieve", json={
            "query": QUESTION, "retriever": "hipporag", "top_k": 5}).json()
    seeds = [s["phrase"] for s in expected["retrieval"]["kg"]["seeds"]]
    assert seeds and not expected["retrieval"]["kg"]["fallback_dense"]
    browser.get(f"{bench_server.url}/#ask")
    wait.until(EC.text_to_be_present_in_element_value((By.ID, "current-collection"), "graph"))
    Select(browser.find_element(By.ID, "ask-retriever")).select_by_value("hipporag")
    browser.find_element(By.ID, "ask-question").send_keys(QUESTION)
    browser.find_element(By.ID, "ask-button").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#kg-graph .kg-passage")))

    # one SVG node per seed, named by its phrase; one per ranked passage
    graph = browser.find_element(By.ID, "kg-graph")
    drawn = [g.get_attribute("data-phrase") for g in graph.find_elements(By.CSS_SELECTOR, ".kg-seed")]
    assert drawn == seeds[:8]
    assert [g.get_attribute("data-chunk") for g in graph.find_elements(By.CSS_SELECTOR, ".kg-passage")] == [
        str(p["chunk_id"]) for p in expected["results"]]
    # the seed "eiffel tower" leads to the Eiffel passage, not to Berlin's
    eiffel = next(str(p["chunk_id"]) for p in expected["results"] if p["document_id"] == "eiffel")
    edges = {(e.get_attribute("data-seed"), e.get_attribute("data-passage"))
             for e in graph.find_elements(By.CSS_SELECTOR, ".kg-edge")}
    assert ("eiffel tower", eiffel) in edges
    assert all(passage == eiffel for seed, passage in edges if seed == "eiffel tower")
    panel = browser.find_element(By.ID, "kg-panel").text
    assert "eiffel tower" in panel and "weight 1.000" in panel and "mode entity" in panel
    browser.execute_script("document.getElementById('kg-panel').scrollIntoView({block: 'center'})")
    shot(browser, "09-ask-kg-trace")

    # the edge rule itself (graph.js, pure): a seed reaches the passages whose title or text
    # mentions it, case and spacing aside
    edges_of = browser.execute_script(
        "return kgEdges([{phrase: 'Eiffel  Tower', weight: 0.7}, {phrase: 'spree', weight: 0.2}],"
        " [{title: 'Paris', text: 'the eiffel tower\\nstands'}, {title: 'Spree', text: 'a river'},"
        "  {title: 'Rome', text: 'nothing'}])")
    assert edges_of == [{"seed": 0, "passage": 0, "weight": 0.7}, {"seed": 1, "passage": 1, "weight": 0.2}]

    # a passage node opens its document (keyboard too)
    node = graph.find_element(By.CSS_SELECTOR, f'.kg-passage[data-chunk="{eiffel}"]')
    browser.execute_script("arguments[0].focus()", node)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    mark = wait.until(EC.visibility_of_element_located((By.ID, "cited-span")))
    assert "Gustave Eiffel" in mark.text
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait.until(lambda d: not d.find_element(By.ID, "doc-dialog").get_attribute("open"))

    # the other traces, readable: fusion's variants, CRAG's grade and action, adaptive's route
    with httpx.Client(base_url=bench_server.url, timeout=120) as http:
        traces = {r: http.post("/v1/collections/graph/retrieve", json={
            "query": QUESTION, "retriever": r, "top_k": 5}).json()["retrieval"]
            for r in ("fusion", "crag", "adaptive")}
    ask_in_page(browser, wait, "fusion")
    variants = browser.find_elements(By.CSS_SELECTOR, "#trace-variants .variants li")
    assert [v.find_element(By.CLASS_NAME, "variant-text").text for v in variants] == [
        v["text"] for v in traces["fusion"]["variants"]]
    assert variants[0].get_attribute("data-kind") == "original"
    assert "variants" not in browser.find_element(By.CSS_SELECTOR, "#trace .kv").text  # not as JSON too
    browser.execute_script("document.getElementById('trace-variants').scrollIntoView({block: 'center'})")
    shot(browser, "10-ask-fusion-variants")

    ask_in_page(browser, wait, "crag")
    crag = traces["crag"]["crag"]
    assert browser.find_element(By.ID, "crag-label").text == crag["label"]
    action = browser.find_element(By.ID, "crag-action").text
    assert action.startswith("Action: ") and (
        "kept the retrieved passages" in action if crag["label"] == "correct" else "searched again" in action)
    # the other grades (the tiny corpus grades correct offline): cragAction in words
    actions = browser.execute_script(
        "return [cragAction({label: 'ambiguous', rewrite: 'eiffel engineer', searched: ['bm25'],"
        " final_label: 'ambiguous'}), cragAction({label: 'incorrect', abstain: true, rewrite: 'x',"
        " searched: ['bm25', 'hipporag']}), cragAction({label: 'correct', strips: [{}, {}]})]")
    assert actions == [
        'searched again with "eiffel engineer" on bm25, fused with the first ranking (grade after: ambiguous)',
        'abstained: nothing relevant, even after it searched again with "x" on bm25, hipporag',
        "kept the retrieved passages, refined to 2 knowledge strips"]
    browser.execute_script("document.getElementById('trace-crag').scrollIntoView({block: 'center'})")
    shot(browser, "11-ask-crag-grade")

    ask_in_page(browser, wait, "adaptive")
    route = browser.find_element(By.ID, "route-line").text
    assert traces["adaptive"]["route"] in route and traces["adaptive"]["routed_to"] in route
    browser.execute_script("document.getElementById('trace-route').scrollIntoView({block: 'center'})")
    shot(browser, "12-ask-adaptive-route")
    ask_in_page(browser, wait, "hipporag")
    browser.set_window_size(390, 844)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#kg-graph .kg-passage")))
    assert_fits_width(browser)
    browser.execute_script("document.getElementById('kg-panel').scrollIntoView({block: 'start'})")
    shot(browser, "14-phone-kg-trace")
    assert_stays_on(browser, bench_server.url)
    assert_no_script_errors(browser)
