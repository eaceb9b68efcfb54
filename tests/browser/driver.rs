//! Headless Chromium driven through WebDriver (the W3C protocol: JSON over HTTP to
//! chromedriver), on the page `lenet-gpu serve` serves on 127.0.0.1.
//! Needs `bash scripts/build-web` (web/pkg/) and Debian's chromium and chromium-driver
//! (`bash scripts/setup --web`); without them a test fails, saying so. It never skips.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// The real binary behind Debian's /usr/bin/chromium wrapper script.
const DEBIAN_CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// One browser at a time: two SwiftShader devices on 2 cores would each run at half speed.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// A headless Chromium with WebGPU, on a page, through chromedriver.
pub struct Browser {
    agent: ureq::Agent,
    session: String,
    driver: Child,
    _one: MutexGuard<'static, ()>,
}

impl Browser {
    /// Opens `url` and waits until the page's module has loaded (`window.lenetReady`).
    pub fn open(url: &str) -> Browser {
        let one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
        let pkg = Path::new(REPO).join("web/pkg/lenet_gpu_web_bg.wasm");
        assert!(pkg.exists(), "{} is missing: run `bash scripts/build-web` before the tests", pkg.display());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start chromedriver ({e}): install Debian's chromium and chromium-driver (`bash scripts/setup --web`)")
            });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(900)))
            .build()
            .into();
        let mut browser = Browser { agent, session: String::new(), driver, _one: one };
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while browser.agent.get(format!("{base}/status")).call().is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "chromedriver did not answer on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut options = json!({ "args": [
            "--headless=new", "--enable-unsafe-webgpu", "--no-sandbox", "--disable-dev-shm-usage"
        ]});
        if Path::new(DEBIAN_CHROMIUM).exists() {
            options["binary"] = json!(DEBIAN_CHROMIUM);
        }
        let caps = json!({ "capabilities": { "alwaysMatch": { "goog:chromeOptions": options } } });
        let created = browser.call("POST", &format!("{base}/session"), caps);
        browser.session = format!(
            "{base}/session/{}",
            created["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {created}"))
        );
        browser.command("timeouts", json!({ "script": 600_000, "pageLoad": 60_000 }));
        browser.command("window/rect", json!({ "width": 1280, "height": 800 }));
        browser.command("url", json!({ "url": url }));
        browser.run("return true", json!(null));
        browser
    }

    fn call(&self, method: &str, url: &str, body: Value) -> Value {
        let response = match method {
            "POST" => self.agent.post(url).send_json(&body),
            "GET" => self.agent.get(url).call(),
            "DELETE" => self.agent.delete(url).call(),
            _ => unreachable!("{method}"),
        };
        let mut response = response.unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
        let value: Value = response
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_json()
            .unwrap_or_else(|e| panic!("WebDriver {method} {url}: bad JSON: {e}"));
        let value = value["value"].clone();
        if let Some(error) = value.get("error") {
            panic!("WebDriver {method} {url}: {error}: {}", value["message"]);
        }
        value
    }

    fn command(&self, what: &str, body: Value) -> Value {
        self.call("POST", &format!("{}/{what}", self.session), body)
    }

    /// Runs `body` (an async function body) in the page, with `lenet` (the module: Lab,
    /// Model, Images, Training, mnist, fetchBytes), `lab` (the page's device) and
    /// `args`; returns what it returns. A thrown error fails the test with its message.
    pub fn run(&self, body: &str, args: Value) -> Value {
        let script = format!(
            r#"const done = arguments[arguments.length - 1];
            const args = arguments[0];
            (async () => {{
                const lenet = await window.lenetReady;
                const lab = window.lenetLab ??= await lenet.Lab.open();
                {body}
            }})().then((value) => done({{ value }}), (e) => done({{ error: String(e?.stack ?? e) }}));"#
        );
        let out = self.command("execute/async", json!({ "script": script, "args": [args] }));
        if let Some(error) = out.get("error") {
            panic!("the page threw: {}", error.as_str().unwrap_or_default());
        }
        out["value"].clone()
    }
}

impl Browser {
    /// Draws `strokes` on the element `css` selects with a mouse (WebDriver pointer
    /// actions), each a list of points relative to the element's centre, in CSS pixels.
    pub fn draw(&self, css: &str, strokes: &[Vec<(i32, i32)>]) {
        let origin = json!({ ELEMENT: self.element(css) });
        self.command(
            "execute/sync",
            json!({ "script": "arguments[0].scrollIntoView({ block: 'center' })", "args": [origin] }),
        );
        let mut actions = Vec::new();
        for stroke in strokes {
            for (i, &(x, y)) in stroke.iter().enumerate() {
                actions.push(json!({ "type": "pointerMove", "duration": 10, "origin": origin, "x": x, "y": y }));
                if i == 0 {
                    actions.push(json!({ "type": "pointerDown", "button": 0 }));
                }
            }
            actions.push(json!({ "type": "pointerUp", "button": 0 }));
        }
        let pointer =
            json!({ "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" }, "actions": actions });
        self.command("actions", json!({ "actions": [pointer] }));
    }
}

/// WebDriver's key for an element's id.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// The id of the element `css` selects (the test fails if there is none).
    fn element(&self, css: &str) -> String {
        let found = self.command("element", json!({ "using": "css selector", "value": css }));
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_string()
    }

    /// Chooses the file `path` in the `<input type=file>` that `css` selects, as a visitor
    /// does in the file dialog.
    pub fn choose_file(&self, css: &str, path: &Path) {
        let id = self.element(css);
        self.command(&format!("element/{id}/value"), json!({ "text": path.to_str().unwrap() }));
    }

    /// Clicks the element `css` selects, as the mouse does (WebDriver's element click).
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.command(&format!("element/{id}/click"), json!({}));
    }

    /// Saves the page as it looks now (a PNG) to `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = self.call("GET", &format!("{}/screenshot", self.session), Value::Null);
        save_png(&png, path);
    }

    /// Saves the element `css` selects, as it looks now, to `path`.
    pub fn screenshot_of(&self, css: &str, path: &Path) {
        let id = self.element(css);
        let png = self.call("GET", &format!("{}/element/{id}/screenshot", self.session), Value::Null);
        save_png(&png, path);
    }

    /// Resizes the window (CSS pixels).
    pub fn resize(&self, width: u32, height: u32) {
        self.command("window/rect", json!({ "width": width, "height": height }));
    }
}

fn save_png(base64_png: &Value, path: &Path) {
    let bytes = base64::engine::general_purpose::STANDARD.decode(base64_png.as_str().unwrap()).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.agent.delete(&self.session).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A JSON array of numbers as f32s.
pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(|x| x.as_f64().unwrap() as f32).collect()
}
