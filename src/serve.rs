//! `lenet-gpu serve`: the page (web/), its wasm and MNIST's files over HTTP, with a model
//! preloaded. Everything it serves is compiled into the binary: the page's bundle
//! (web/pkg, committed, built by `scripts/build-web`; CI checks it was built from these
//! sources) and the bundled MNIST, so it works from a fresh clone without the wasm toolchain.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::ErrorKind;

use crate::data::Split;
use crate::error::{Error, Result};

/// One thing served: its content type and bytes (borrowed from the binary, or the model
/// read at the start), never copied per request.
struct Resource {
    content_type: &'static str,
    bytes: Cow<'static, [u8]>,
}

/// What the server answers, by path.
pub struct Site {
    resources: HashMap<String, Resource>,
}

/// An answer: status, content type, body, and where to go for a redirect.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer<'a> {
    pub status: u16,
    pub content_type: &'static str,
    pub body: &'a [u8],
    pub location: Option<&'static str>,
}

/// The page's files, as built into web/ and web/pkg/.
const PAGE: [(&str, &str, &[u8]); 6] = [
    ("/web/index.html", "text/html; charset=utf-8", include_bytes!("../web/index.html")),
    ("/web/main.js", "text/javascript", include_bytes!("../web/main.js")),
    ("/web/draw.js", "text/javascript", include_bytes!("../web/draw.js")),
    ("/web/lenet.js", "text/javascript", include_bytes!("../web/lenet.js")),
    ("/web/pkg/lenet_gpu_web.js", "text/javascript", include_bytes!("../web/pkg/lenet_gpu_web.js")),
    ("/web/pkg/lenet_gpu_web_bg.wasm", "application/wasm", include_bytes!("../web/pkg/lenet_gpu_web_bg.wasm")),
];

/// Where the page asks for the preloaded model.
pub const MODEL_PATH: &str = "/model.safetensors";

impl Site {
    /// The page, MNIST and, when given, a model file's bytes at [`MODEL_PATH`].
    pub fn new(model: Option<Vec<u8>>) -> Site {
        let mut resources = HashMap::new();
        for (path, content_type, bytes) in PAGE {
            resources.insert(path.to_string(), Resource { content_type, bytes: Cow::Borrowed(bytes) });
        }
        for split in [Split::Train, Split::Test] {
            let (images, labels) = split.bundled();
            let (image_name, label_name) = split.file_names();
            for (name, bytes) in [(image_name, images), (label_name, labels)] {
                let resource = Resource { content_type: "application/gzip", bytes: Cow::Borrowed(bytes) };
                resources.insert(format!("/assets/mnist/{name}.gz"), resource);
            }
        }
        if let Some(bytes) = model {
            resources.insert(
                MODEL_PATH.into(),
                Resource { content_type: "application/octet-stream", bytes: Cow::Owned(bytes) },
            );
        }
        Site { resources }
    }

    /// The answer to `method` on `url` (its query and fragment ignored).
    pub fn answer(&self, method: &str, url: &str) -> Answer<'_> {
        let plain = |status, text: &'static str| Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes(),
            location: None,
        };
        if method != "GET" && method != "HEAD" {
            return plain(405, "only GET and HEAD are served\n");
        }
        let path = url.split(['?', '#']).next().unwrap_or_default();
        if path == "/" || path == "/web" {
            return Answer { location: Some("/web/"), ..plain(302, "the page is at /web/\n") };
        }
        let path = if path == "/web/" { "/web/index.html" } else { path };
        match self.resources.get(path) {
            Some(r) => Answer { status: 200, content_type: r.content_type, body: &r.bytes, location: None },
            None if path == MODEL_PATH => plain(404, "no model was given to lenet-gpu serve (--model FILE)\n"),
            None => plain(404, "not found\n"),
        }
    }
}

/// A listening server, not yet answering.
pub struct Server {
    http: tiny_http::Server,
    site: Site,
}

impl Server {
    /// Listens on `host`:`port` (0: any free port). A port in use is a clear error.
    pub fn bind(host: &str, port: u16, site: Site) -> Result<Server> {
        let address = format!("{host}:{port}");
        let http = tiny_http::Server::http(&address).map_err(|e| {
            let in_use = e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == ErrorKind::AddrInUse);
            let why = if in_use { "it is in use; choose another with --port".to_string() } else { e.to_string() };
            Error::Config(format!("cannot listen on {address}: {why}"))
        })?;
        Ok(Server { http, site })
    }

    /// The address it listens on, as a URL.
    pub fn url(&self) -> String {
        match self.http.server_addr().to_ip() {
            Some(a) => format!("http://{a}/web/"),
            None => "(not an IP address)".into(),
        }
    }

    /// Answers requests until the process ends. A request that cannot be answered (the
    /// client went away) is dropped; the server goes on.
    pub fn run(self) {
        for request in self.http.incoming_requests() {
            let answer = self.site.answer(request.method().as_str(), request.url());
            let headers = vec![header("Content-Type", answer.content_type)];
            let length = Some(answer.body.len());
            let mut response = tiny_http::Response::new(answer.status.into(), headers, answer.body, length, None);
            if let Some(location) = answer.location {
                response = response.with_header(header("Location", location));
            }
            let _ = request.respond(response);
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name, value).expect("a valid header")
}
