"""The Chrome extension (``extension/``) in a real Chromium, against ``parlay serve`` (a real uvicorn process) on a
copy of the main job's database (real Postgres, real Redis).

The API listens on a free port, so most tests load a copy of the extension whose host permission covers any
loopback port (what the shipped manifest grants for the default ``http://127.0.0.1:8000``) and whose id is its own.
One test loads the extension exactly as shipped: it reaches the test API only because that API allows the
extension's fixed origin by CORS (``PARLAY_SERVICE_CORS_ORIGINS``).

Run alone: ``./dev test -m browser``. Screenshots go to ``PARLAY_SCREENSHOTS_DIR`` (default: the test's tmp dir).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psycopg
import pytest

from parlay.apikeys import ScryptParams, create_api_key
from service.bench import _wait_healthy
from service.server import free_port
from tests.e2e.conftest import MAIN_JOB_DAY, MainJobDay, copy_of_database
from tests.integration.test_service_api import drop_prefix, redis_url
from tests.unit.test_extension_files import EXTENSION, manifest, shipped_extension_id

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
KALSHI_PAGE = (Path(__file__).parent / "fixtures" / "kalshi_page.html").read_text()
def as_of(day: object) -> str:
    """22:00Z, before the simulated day's first tip-off (18:00 New York time): every game market is open."""
    return f"{day}T22:00:00Z"
QUOTE_TTL_S = 10


def _day_markets() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Tickers and searchable team names of the fixture day's first games, from the simulator itself (so the
    tests follow the simulated catalogue of whatever day ``MAIN_JOB_DAY`` is)."""
    from models.simulator.config import SimulationConfig
    from models.simulator.day import simulate_games

    games, specs = simulate_games(SimulationConfig(), MAIN_JOB_DAY)
    moneylines = {m.ticker for m in specs if m.family == "moneyline"}
    tickers: dict[str, str] = {}
    names: dict[str, str] = {}
    teams: dict[str, str] = {}
    for key, game, team, name in (("away1", games[0], games[0].away, games[0].away_name),
                                  ("home1", games[0], games[0].home, games[0].home_name),
                                  ("away2", games[1], games[1].away, games[1].away_name),
                                  ("home2", games[1], games[1].home, games[1].home_name),
                                  ("home3", games[2], games[2].home, games[2].home_name)):
        event = next(m.event_ticker for m in specs if m.family == "moneyline" and m.game == game.index)
        ticker = f"{event}-{team}"
        assert ticker in moneylines, ticker
        tickers[key], names[key], teams[key] = ticker, name.lower(), name
        tickers[f"event{key[-1]}"] = event
    return tickers, names, teams


_TICKERS, _NAMES, _TEAMS = _day_markets()
GSW, OKC = _TICKERS["away1"], _TICKERS["home1"]  # the first game: away and home moneylines
CLE, DAL = _TICKERS["away2"], _TICKERS["home2"]  # a second game
MIA = _TICKERS["home3"]  # a third game
GSWOKC = _TICKERS["event1"]
EVENT_PAGE = f"https://kalshi.com/markets/simnbagame/professional-basketball-game/{GSWOKC.lower()}"
MARKET_PAGE = f"https://kalshi.com/markets/simnbagame/professional-basketball-game/{DAL.lower()}"
UNKNOWN_PAGE = "https://kalshi.com/markets/kxunknown/some-event/kxunknown-26mar07abcdef"
IMPOSSIBLE = "These legs cannot all win together (one rules another out). Remove one of them."


def chromium_path() -> str:
    path = os.environ.get("PARLAY_CHROMIUM", "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no Chromium at {path}: install Debian's chromium (apt-get install -y chromium) or set "
                    "PARLAY_CHROMIUM")
    return path


def screenshot_path(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("PARLAY_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


# ----------------------------------------------------------------------------- the API: parlay serve


@dataclass
class Api:
    url: str
    key: str
    key_id: str
    database_url: str
    log: Path

    def requests(self, method: str, path_prefix: str) -> int:
        """Requests the server logged (uvicorn's access log) whose path starts with ``path_prefix``."""
        pattern = f'"{method} {path_prefix}'
        return sum(pattern in line for line in self.log.read_text().splitlines())

    def one(self, query: str, *args: object) -> tuple:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(query, args).fetchone()
        assert row is not None, query
        return row

    def markets(self, **params: str) -> list[dict]:
        r = httpx.get(f"{self.url}/markets", params=params, headers={"X-API-Key": self.key}, timeout=30)
        r.raise_for_status()
        return r.json()["markets"]


@contextmanager
def parlay_serve(database_url: str, storage_url: str, log: Path, **env: str) -> Iterator[Api]:
    with psycopg.connect(database_url) as conn:
        key = create_api_key(conn, f"extension-test-{uuid.uuid4().hex[:6]}", 100_000, params=ScryptParams(log2_n=10))
    port = free_port()
    environment = {**os.environ, "PARLAY_DATABASE_URL": database_url, "PARLAY_STORAGE_URL": storage_url,
                   "PYTHONUNBUFFERED": "1", "PARLAY_SERVICE_HEALTH_RATE_PER_MIN": "6000", **env}
    for name in ("PARLAY_SERVICE_CORS_ORIGINS", "PARLAY_SERVICE_LIVE"):
        if name not in env:
            environment.pop(name, None)
    parlay = Path(sys.executable).with_name("parlay")
    with log.open("w") as out:
        proc = subprocess.Popen([str(parlay), "serve", "--port", str(port)], env=environment, stdout=out,
                                stderr=subprocess.STDOUT, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            _wait_healthy(url, proc, timeout_s=120, api_key=key.api_key)  # until a model is loaded
        except RuntimeError as exc:
            raise RuntimeError(f"parlay serve: {exc}\n{log.read_text()[-3000:]}") from None
        yield Api(url, key.api_key, key.key_id, database_url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def book_database(pg_server: str, main_job_day: MainJobDay) -> Iterator[str]:
    """A copy of the main job's database: bets placed here leave the shared one as the job left it."""
    assert main_job_day.outcome.success, main_job_day.outcome.failed_steps
    with copy_of_database(pg_server, main_job_day.database_url, prefix="parlay_extension") as url:
        yield url


@pytest.fixture(scope="module")
def api(book_database: str, main_job_day: MainJobDay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    prefix = f"parlay-ext-{uuid.uuid4().hex[:8]}:"
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with parlay_serve(book_database, main_job_day.storage_url, log, PARLAY_REDIS_URL=redis_url(),
                      PARLAY_REDIS_PREFIX=prefix,
                      PARLAY_SERVICE_DATE=main_job_day.day.isoformat(), PARLAY_SERVICE_AS_OF=as_of(main_job_day.day),
                      PARLAY_SERVICE_QUOTE_TTL_S=str(QUOTE_TTL_S),
                      PARLAY_SERVICE_CORS_ORIGINS=f"chrome-extension://{shipped_extension_id()}") as a:
        yield a
    drop_prefix(prefix)


@pytest.fixture(scope="module")
def api_without_redis(book_database: str, main_job_day: MainJobDay,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The same book served without Redis (rate limiting off) and without CORS."""
    log = tmp_path_factory.mktemp("serve-no-redis") / "serve.log"
    with parlay_serve(book_database, main_job_day.storage_url, log, PARLAY_SERVICE_REDIS="off",
                      PARLAY_SERVICE_DATE=main_job_day.day.isoformat(),
                      PARLAY_SERVICE_AS_OF=as_of(main_job_day.day)) as a:
        yield a


# ----------------------------------------------------------------------------- the browser


@dataclass
class Browser:
    context: object  # playwright BrowserContext
    extension_id: str

    def open(self, page: str):
        p = self.context.new_page()
        p.goto(f"chrome-extension://{self.extension_id}/{page}")
        return p

    def configure(self, url: str, key: str):
        """Save the API URL and key on the options page, as a user does."""
        from playwright.sync_api import expect

        page = self.open("options.html")
        page.get_by_test_id("api-url").fill(url)
        page.get_by_test_id("api-key").fill(key)
        page.get_by_test_id("save").click()
        expect(page.get_by_test_id("connection-status")).to_contain_text(f"Saved: {url}")
        return page


@pytest.fixture(scope="module")
def playwright_session() -> Iterator[object]:
    chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def launch(playwright: object, extension_dir: Path, profile: Path) -> Browser:
    args = ["--headless=new", "--no-sandbox", f"--disable-extensions-except={extension_dir}",
            f"--load-extension={extension_dir}", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"]
    context = playwright.chromium.launch_persistent_context(  # type: ignore[attr-defined]
        str(profile), headless=True, executable_path=chromium_path(), args=args,
        viewport={"width": 1100, "height": 720})
    worker = context.service_workers[0] if context.service_workers else context.wait_for_event(
        "serviceworker", timeout=30_000)
    return Browser(context, urlparse(worker.url).hostname or "")


@pytest.fixture
def browser(playwright_session: object, tmp_path: Path) -> Iterator[Browser]:
    """The extension with host access to any loopback port (the API's free port) and an id of its own."""
    ext = tmp_path / "extension"
    shutil.copytree(EXTENSION, ext)
    m = manifest()
    m["host_permissions"] = ["http://127.0.0.1/*"]
    del m["key"]
    (ext / "manifest.json").write_text(json.dumps(m))
    b = launch(playwright_session, ext, tmp_path / "profile")
    assert b.extension_id != shipped_extension_id()
    yield b
    b.context.close()  # type: ignore[attr-defined]


@pytest.fixture
def shipped_browser(playwright_session: object, tmp_path: Path) -> Iterator[Browser]:
    """The extension exactly as shipped."""
    ext = tmp_path / "extension"
    shutil.copytree(EXTENSION, ext)
    b = launch(playwright_session, ext, tmp_path / "profile")
    yield b
    b.context.close()  # type: ignore[attr-defined]


def content_script_world(browser: Browser, page):
    """Evaluate JavaScript in the extension's content-script world of ``page`` (through the DevTools protocol)."""
    cdp = browser.context.new_cdp_session(page)  # type: ignore[attr-defined]
    contexts: list[dict] = []
    cdp.on("Runtime.executionContextCreated", lambda event: contexts.append(event["context"]))
    cdp.send("Runtime.enable")
    origin = f"chrome-extension://{browser.extension_id}"
    deadline = time.monotonic() + 10
    while not any(c["origin"] == origin for c in contexts) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    (world,) = [c["id"] for c in contexts if c["origin"] == origin]

    def evaluate(expression: str) -> str:
        r = cdp.send("Runtime.evaluate", {"expression": expression, "contextId": world, "awaitPromise": True,
                                          "returnByValue": True})
        return r["result"]["value"]

    return evaluate


def result(popup, ticker: str):
    return popup.locator(f'[data-testid="market-result"][data-ticker="{ticker}"]')


def leg(popup, ticker: str):
    return popup.locator(f'[data-testid="slip-leg"][data-ticker="{ticker}"]')


def add_from_search(popup, search: str, ticker: str, side: str) -> None:
    from playwright.sync_api import expect

    popup.get_by_test_id("market-search").fill(search)
    result(popup, ticker).get_by_test_id(f"add-{side}").click()
    expect(leg(popup, ticker)).to_have_attribute("data-side", side)


# ----------------------------------------------------------------------------- options


def test_options_save_and_test_connection(browser: Browser, api: Api, api_without_redis: Api) -> None:
    from playwright.sync_api import expect

    page = browser.open("options.html")
    expect(page.get_by_test_id("api-url")).to_have_value("http://127.0.0.1:8000")  # the default
    page.get_by_test_id("api-url").fill(api.url + "/")
    page.get_by_test_id("api-key").fill(api.key)
    page.get_by_test_id("save").click()
    status = page.get_by_test_id("connection-status")
    expect(status).to_contain_text(f"Saved: {api.url} with an API key.")
    assert page.evaluate("chrome.storage.local.get(['apiUrl', 'apiKey'])") == {"apiUrl": api.url, "apiKey": api.key}

    page.get_by_test_id("test-connection").click()
    expect(status).to_have_attribute("data-state", "ok")
    text = status.inner_text()
    assert f"Reached the API at {api.url}: status ok." in text
    assert "markets can be quoted" in text and "The API key works" in text
    assert "Rate limiting is on" in text

    page.get_by_test_id("api-key").fill(api.key_id + ".notTheSecretAtAllNotTheSecretAtAllNotTheSecr")
    page.get_by_test_id("test-connection").click()
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("Wrong API key: the API does not know it, or it was revoked.")
    expect(status).to_contain_text("status ok")  # the API itself is fine

    dead = f"http://127.0.0.1:{free_port()}"
    page.get_by_test_id("api-url").fill(dead)
    page.get_by_test_id("test-connection").click()
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_have_text(f"✗ Cannot reach the API at {dead}: is `parlay serve` running there? Check the API "
                                "URL in Settings.")

    page.get_by_test_id("api-url").fill(api_without_redis.url)
    page.get_by_test_id("api-key").fill(api_without_redis.key)
    page.get_by_test_id("test-connection").click()
    expect(status).to_have_attribute("data-state", "warn")
    expect(status).to_contain_text("Rate limiting is off: the API runs without Redis")
    expect(status).to_contain_text("The API key works")


def test_shipped_extension_reaches_an_api_that_allows_its_origin(shipped_browser: Browser, api: Api,
                                                                 api_without_redis: Api) -> None:
    """As shipped: host access to the default origin only; any other origin is asked for at run time (the headless
    browser cannot answer Chrome's prompt, so it stays unanswered) or allowed by the API's CORS origins."""
    from playwright.sync_api import expect

    assert manifest()["host_permissions"] == ["http://127.0.0.1:8000/*"]
    assert shipped_browser.extension_id == shipped_extension_id()
    page = shipped_browser.configure(api.url, api.key)
    status = page.get_by_test_id("connection-status")
    expect(status).to_contain_text(f"Chrome asks you to allow access to {api.url}")
    page.get_by_test_id("test-connection").click()
    expect(status).to_have_attribute("data-state", "ok")
    expect(status).to_contain_text("The API key works")  # through CORS: the API allows this extension's origin
    page.get_by_test_id("api-url").fill(api_without_redis.url)  # no CORS there, and no permission
    page.get_by_test_id("test-connection").click()
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text(f"The extension has no access to {api_without_redis.url}")


# ----------------------------------------------------------------------------- the slip


def test_search_add_two_games_quote_and_place_one_bet(browser: Browser, api: Api, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    browser.configure(api.url, api.key)
    popup = browser.open("popup.html")
    popup.set_viewport_size({"width": 404, "height": 900})
    add_from_search(popup, _NAMES["home1"], OKC, "yes")
    # the same leg again, or the other side of its market: blocked in the slip
    expect(result(popup, OKC).get_by_test_id("add-yes")).to_be_disabled()
    expect(result(popup, OKC).get_by_test_id("add-no")).to_be_disabled()
    expect(result(popup, GSW).get_by_test_id("add-yes")).to_be_enabled()  # another market of the game is not
    add_from_search(popup, _NAMES["home2"], DAL, "yes")  # a second game
    add_from_search(popup, _NAMES["home3"], MIA, "no")
    expect(popup.get_by_test_id("slip-leg")).to_have_count(3)
    leg(popup, MIA).get_by_test_id("remove-leg").click()
    expect(popup.get_by_test_id("slip-leg")).to_have_count(2)
    popup.get_by_test_id("market-search").fill("")

    popup.get_by_test_id("stake").fill("10")
    popup.get_by_test_id("get-quote").click()
    expect(popup.get_by_test_id("quote-expiry")).to_have_text(re.compile(r"^Expires in \d+ s$"))
    quote_id = popup.get_by_test_id("quote-id").inner_text()
    legs, stake, probability, price, payout, max_stake = api.one(
        "SELECT legs, stake, probability, price, payout, max_stake FROM ledger.quotes WHERE quote_id = %s", quote_id)
    assert legs == [{"ticker": OKC, "side": "yes"}, {"ticker": DAL, "side": "yes"}] and stake == Decimal(10)
    # the popup shows the quote the ledger stored
    expect(popup.get_by_test_id("quote-probability")).to_have_text(f"{float(probability) * 100:.1f} %")
    expect(popup.get_by_test_id("quote-price")).to_have_text(f"${price:.2f} per $1 of payout")
    expect(popup.get_by_test_id("quote-payout")).to_have_text(f"${payout:,.2f} for $10.00")
    expect(popup.get_by_test_id("quote-max-stake")).to_have_text(f"${max_stake:,.2f}")
    popup.locator("body").screenshot(path=str(screenshot_path(tmp_path, "extension-popup.png")))

    posts_before = api.requests("POST", "/bets")
    popup.get_by_test_id("place-bet").dblclick()
    expect(popup.get_by_test_id("bet-id")).to_have_text(re.compile(r"^bet_"))
    bet_id = popup.get_by_test_id("bet-id").inner_text()
    expect(popup.get_by_test_id("bet-status")).to_have_text("open")
    expect(popup.get_by_test_id("place-bet")).to_be_disabled()
    expect(popup.get_by_test_id("error")).to_be_hidden()
    # the bet is in the ledger, once: a double click sent one request
    got = api.one("SELECT quote_id, stake, state, price, payout FROM ledger.bets WHERE bet_id = %s", bet_id)
    assert got == (quote_id, Decimal(10), "open", price, payout)
    assert api.one("SELECT count(*) FROM ledger.bets WHERE quote_id = %s", quote_id) == (1,)
    assert api.one("SELECT array_agg(market_ticker || ':' || side ORDER BY leg_index) FROM ledger.bet_legs "
                   "WHERE bet_id = %s", bet_id) == ([f"{OKC}:yes", f"{DAL}:yes"],)
    time.sleep(0.5)  # a second request, if any, would be logged by now
    assert api.requests("POST", "/bets") - posts_before == 1
    # recent bets are read back with GET /bets/{id}
    recent = popup.locator(f'[data-testid="recent-bet"][data-bet-id="{bet_id}"]')
    expect(recent).to_contain_text("open · $10.00")
    assert api.requests("GET", f"/bets/{bet_id}") >= 1


def test_impossible_combo_shows_its_sentence(browser: Browser, api: Api) -> None:
    from playwright.sync_api import expect

    browser.configure(api.url, api.key)
    popup = browser.open("popup.html")
    add_from_search(popup, GSWOKC, GSW, "yes")
    add_from_search(popup, GSWOKC, OKC, "yes")  # both teams of one game win: impossible
    popup.get_by_test_id("get-quote").click()
    error = popup.get_by_test_id("error")
    expect(error).to_have_text(IMPOSSIBLE)
    expect(error).to_have_attribute("data-code", "impossible_combo")
    expect(popup.get_by_test_id("place-bet")).to_be_hidden()


def test_expired_quote_cannot_be_placed(browser: Browser, api: Api) -> None:
    from playwright.sync_api import expect

    browser.configure(api.url, api.key)
    popup = browser.open("popup.html")
    add_from_search(popup, _NAMES["home1"], OKC, "yes")
    add_from_search(popup, _NAMES["away2"], CLE, "no")
    popup.get_by_test_id("get-quote").click()
    expect(popup.get_by_test_id("place-bet")).to_be_enabled()
    quote_id = popup.get_by_test_id("quote-id").inner_text()
    expect(popup.get_by_test_id("quote-expiry")).to_have_text("Expired: quote again.",
                                                              timeout=(QUOTE_TTL_S + 5) * 1000)
    expect(popup.get_by_test_id("place-bet")).to_be_disabled()
    expect(popup.get_by_test_id("get-quote")).to_have_text("Quote again")
    popup.get_by_test_id("place-bet").click(force=True)  # a click on the disabled button does nothing
    # and the API agrees the quote is gone
    r = httpx.post(f"{api.url}/bets", headers={"X-API-Key": api.key}, timeout=30,
                   json={"quote_id": quote_id, "stake": "10.00", "idempotency_key": "late-" + quote_id})
    assert r.status_code == 410 and r.json()["code"] == "quote_expired", r.text
    assert api.one("SELECT count(*) FROM ledger.bets WHERE quote_id = %s", quote_id) == (0,)
    popup.get_by_test_id("get-quote").click()  # quote again
    expect(popup.get_by_test_id("quote-expiry")).to_have_text(re.compile(r"^Expires in \d+ s$"))
    assert popup.get_by_test_id("quote-id").inner_text() != quote_id


def test_popup_says_when_the_api_cannot_be_reached(browser: Browser) -> None:
    from playwright.sync_api import expect

    dead = f"http://127.0.0.1:{free_port()}"
    browser.configure(dead, "pk_0000.none")
    popup = browser.open("popup.html")
    popup.get_by_test_id("market-search").fill("oklahoma")
    expect(popup.get_by_test_id("error")).to_have_text(
        f"Cannot reach the API at {dead}: is `parlay serve` running there? Check the API URL in Settings.")


# ----------------------------------------------------------------------------- the Kalshi content script


def test_kalshi_pages_get_a_panel_that_adds_legs_to_the_slip(browser: Browser, api: Api, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    browser.configure(api.url, api.key)
    page = browser.context.new_page()  # type: ignore[attr-defined]
    page.route("https://kalshi.com/**", lambda route: route.fulfill(status=200, content_type="text/html",
                                                                   body=KALSHI_PAGE))
    page.goto(EVENT_PAGE)
    panel = page.get_by_test_id("parlay-panel")
    expect(panel).to_be_visible()
    event_markets = [m["ticker"] for m in api.markets(event_ticker=GSWOKC)]
    assert event_markets == sorted([GSW, OKC])  # the API lists an event's markets by ticker
    rows = page.get_by_test_id("parlay-market")
    expect(rows).to_have_count(len(event_markets))
    assert [rows.nth(i).get_attribute("data-ticker") for i in range(rows.count())] == event_markets
    okc = page.locator(f'[data-testid="parlay-market"][data-ticker="{OKC}"]')
    okc.get_by_test_id("parlay-add-yes").click()
    expect(page.get_by_test_id("parlay-note")).to_contain_text(f"Added YES {_TEAMS['home1']}: 1 leg in the slip.")
    expect(okc.get_by_test_id("parlay-add-no")).to_be_disabled()  # the other side of a market in the slip
    page.screenshot(path=str(screenshot_path(tmp_path, "extension-kalshi-panel.png")))
    # from the content script's own world: no storage (where the key is), and no worker call beyond markets and slip
    in_content_script = content_script_world(browser, page)
    assert in_content_script("chrome.storage.local.get(null).then(v => JSON.stringify(v), e => 'refused')") \
        == "refused"
    for request in ({"type": "getState"}, {"type": "testConnection", "apiUrl": api.url},
                    {"type": "getQuote"}, {"type": "recentBets"}):
        answer = in_content_script(f"chrome.runtime.sendMessage({json.dumps(request)}).then(JSON.stringify)")
        assert json.loads(answer).get("error", {}).get("code") == "forbidden", (request, answer)
        assert api.key not in answer

    # a market page: that market's event, from the market ticker in the path
    page.goto(MARKET_PAGE)
    dal = page.locator(f'[data-testid="parlay-market"][data-ticker="{DAL}"]')
    expect(dal).to_be_visible()
    expect(page.get_by_test_id("parlay-market")).to_have_count(2)
    dal.get_by_test_id("parlay-add-yes").click()
    expect(page.get_by_test_id("parlay-note")).to_contain_text("2 legs in the slip")

    # the popup shows the same slip
    popup = browser.open("popup.html")
    expect(popup.get_by_test_id("slip-leg")).to_have_count(2)
    expect(leg(popup, OKC)).to_have_attribute("data-side", "yes")
    expect(leg(popup, DAL)).to_have_attribute("data-side", "yes")

    # a page whose ticker the API does not know: it asks, then shows nothing
    asked = api.requests("GET", "/markets?event_ticker=KXUNKNOWN-26MAR07ABCDEF")
    page.bring_to_front()
    page.goto(UNKNOWN_PAGE)
    deadline = time.monotonic() + 20
    while api.requests("GET", "/markets?search=KXUNKNOWN-26MAR07ABCDEF") == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.requests("GET", "/markets?event_ticker=KXUNKNOWN-26MAR07ABCDEF") > asked
    page.wait_for_timeout(1000)
    expect(page.locator("#parlay-slip-panel-host")).to_have_count(0)
    # no ticker in the path: it does not even ask
    page.goto("https://kalshi.com/")
    page.wait_for_timeout(2000)
    expect(page.locator("#parlay-slip-panel-host")).to_have_count(0)

    # dismissed: gone for that page
    page.goto(EVENT_PAGE)
    expect(panel).to_be_visible()
    page.get_by_test_id("parlay-dismiss").click()
    expect(page.locator("#parlay-slip-panel-host")).to_have_count(0)
