//! Each server's index page in a real browser, headless Chromium through ChromeDriver: the page
//! runs the seed's experiment (shortened), and must find sync-server blocked and async-server
//! not, alone and side by side, at any width, without an error in the console. Screenshots go
//! to `target/screenshots/`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use testkit::{workspace_binary, Server};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The sleep the page is asked for, in seconds: short, but far above a browser's noise.
const SLEEP: &str = "0.8";

/// ChromeDriver on a free port; when dropped, it and the browser it started are killed (a failed
/// test never reaches `close`, and Chromium outlives ChromeDriver: it runs in a session of its
/// own, so it is found by its profile directory, which is this test's alone).
struct Driver {
    process: Child,
    url: String,
    profile: PathBuf,
}

impl Driver {
    fn start() -> Driver {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: run scripts/setup first"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            process,
            url: format!("http://127.0.0.1:{port}"),
            profile: std::env::temp_dir().join(format!("pages-test-{}", std::process::id())),
        }
    }

    async fn browser(&self) -> Client {
        let profile = &self.profile;
        let options = json!({
            "binary": CHROMIUM,
            // Headless, and nothing that would reach for the network beyond loopback.
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1000,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let profile = self.profile.to_string_lossy().into_owned();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let ours = String::from_utf8_lossy(&cmdline).contains(&profile);
            let pid = entry.file_name().to_string_lossy().parse::<i32>();
            if let (true, Ok(pid)) = (ours, pid) {
                // SAFETY: kill(2) on a browser process this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// ChromeDriver's console log (the legacy `se/log` endpoint; WebDriver has none).
#[derive(Debug)]
struct ConsoleLog;

impl WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

/// The console's errors since the last call.
async fn console_errors(browser: &Client) -> Vec<String> {
    let entries = browser
        .issue_cmd(ConsoleLog)
        .await
        .expect("the console log");
    let entries = entries.as_array().cloned().unwrap_or_default();
    entries
        .into_iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn set(browser: &Client, id: &str, value: &str) {
    let field = browser.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Waits for `#id` to carry a verdict, and returns its `data-blocked`.
async fn verdict(browser: &Client, id: &str) -> String {
    let found = browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!("#{id}[data-blocked]")))
        .await
        .unwrap_or_else(|e| panic!("no verdict in #{id}: {e}"));
    found.attr("data-blocked").await.unwrap().unwrap()
}

async fn screenshot(browser: &Client, name: &str) -> PathBuf {
    let dir = workspace_binary("sync-server").with_file_name("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
    path
}

async fn run_here(browser: &Client, server: &Server) -> String {
    run_experiment(browser, server, "/sleep").await
}

/// Runs the page's experiment with `route` in the sleep's place, on the server that served it.
async fn run_experiment(browser: &Client, server: &Server, route: &str) -> String {
    browser
        .goto(&format!("http://{}/", server.addr()))
        .await
        .unwrap();
    set(browser, "duration", SLEEP).await;
    let choice = browser.find(Locator::Id("experiment")).await.unwrap();
    choice.select_by_value(route).await.unwrap();
    browser
        .find(Locator::Id("run"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    verdict(browser, "verdict").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_find_sync_blocked_and_async_not_alone_and_side_by_side() {
    let sync = Server::start(workspace_binary("sync-server").to_str().unwrap(), &[]);
    let asynchronous = Server::start(workspace_binary("async-server").to_str().unwrap(), &[]);
    let driver = Driver::start();
    let browser = driver.browser().await;

    assert_eq!(
        run_here(&browser, &sync).await,
        "true",
        "sync-server: blocked"
    );
    screenshot(&browser, "sync-server").await;
    assert_eq!(console_errors(&browser).await, Vec::<String>::new());

    assert_eq!(
        run_here(&browser, &asynchronous).await,
        "false",
        "async-server: not blocked"
    );
    screenshot(&browser, "async-server").await;
    assert_eq!(console_errors(&browser).await, Vec::<String>::new());

    // Side by side, from the sync server's page: this server blocked, the other not.
    browser
        .goto(&format!("http://{}/", sync.addr()))
        .await
        .unwrap();
    set(&browser, "duration", SLEEP).await;
    set(
        &browser,
        "other",
        &format!("http://{}", asynchronous.addr()),
    )
    .await;
    browser
        .find(Locator::Id("run-both"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(verdict(&browser, "verdict").await, "true");
    assert_eq!(verdict(&browser, "verdict-other").await, "false");
    screenshot(&browser, "side-by-side").await;
    assert_eq!(console_errors(&browser).await, Vec::<String>::new());

    // What async does not buy, and the mistake and the fix: computing blocks both servers, a
    // blocking sleep blocks the async one, an offloaded one does not.
    for (server, route, blocked) in [
        (&sync, "/compute", "true"),
        (&asynchronous, "/compute", "true"),
        (&asynchronous, "/block", "true"),
        (&asynchronous, "/offload", "false"),
    ] {
        let verdict = run_experiment(&browser, server, route).await;
        assert_eq!(verdict, blocked, "{route} on {}", server.addr());
        assert_eq!(console_errors(&browser).await, Vec::<String>::new());
    }
    screenshot(&browser, "offload").await;

    // A phone's width: nothing sticks out sideways.
    browser.set_window_size(375, 800).await.unwrap();
    let fits = browser
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        fits,
        Value::Bool(true),
        "the page is wider than a narrow window"
    );
    screenshot(&browser, "narrow").await;

    browser.close().await.unwrap();
}
