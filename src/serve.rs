//! `lenet-gpu serve`: the page (web/), its wasm and MNIST's files over HTTP, with a model
//! preloaded. Everything it serves is compiled into the binary: the page's bundle
//! (web/pkg, committed, built by `scripts/build-web`; CI checks it was built from these
//! sources) and the bundled MNIST, so it works from a fresh clone without the wasm toolchain.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::ErrorKind;

use http_body_util::Full;
use hyper::body::Bytes;

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

/// The page's files: web/ as written and web/pkg/ as built (a test checks that every file
/// of web/ but its crate's sources is here).
const PAGE: [(&str, &str, &[u8]); 16] = [
    ("/web/index.html", "text/html; charset=utf-8", include_bytes!("../web/index.html")),
    ("/web/style.css", "text/css", include_bytes!("../web/style.css")),
    ("/web/main.js", "text/javascript", include_bytes!("../web/main.js")),
    ("/web/explorer.js", "text/javascript", include_bytes!("../web/explorer.js")),
    ("/web/draw.js", "text/javascript", include_bytes!("../web/draw.js")),
    ("/web/layers.js", "text/javascript", include_bytes!("../web/layers.js")),
    ("/web/why.js", "text/javascript", include_bytes!("../web/why.js")),
    ("/web/train.js", "text/javascript", include_bytes!("../web/train.js")),
    ("/web/lenet.js", "text/javascript", include_bytes!("../web/lenet.js")),
    ("/web/vendor/uplot/uPlot.esm.js", "text/javascript", include_bytes!("../web/vendor/uplot/uPlot.esm.js")),
    ("/web/vendor/uplot/uPlot.min.css", "text/css", include_bytes!("../web/vendor/uplot/uPlot.min.css")),
    ("/web/vendor/uplot/LICENSE", "text/plain; charset=utf-8", include_bytes!("../web/vendor/uplot/LICENSE")),
    ("/web/vendor/uplot/README", "text/plain; charset=utf-8", include_bytes!("../web/vendor/uplot/README")),
    ("/web/pkg/lenet_gpu_web.js", "text/javascript", include_bytes!("../web/pkg/lenet_gpu_web.js")),
    ("/web/pkg/lenet_gpu_web_bg.wasm", "application/wasm", include_bytes!("../web/pkg/lenet_gpu_web_bg.wasm")),
    ("/web/pkg/SOURCES", "text/plain; charset=utf-8", include_bytes!("../web/pkg/SOURCES")),
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
    listener: std::net::TcpListener,
    site: Site,
}

impl Server {
    /// Listens on `host`:`port` (0: any free port). A port in use is a clear error.
    pub fn bind(host: &str, port: u16, site: Site) -> Result<Server> {
        let address = format!("{host}:{port}");
        let listener = std::net::TcpListener::bind(&address).map_err(|e| {
            let why = if e.kind() == ErrorKind::AddrInUse {
                "it is in use; choose another with --port".into()
            } else {
                e.to_string()
            };
            Error::Config(format!("cannot listen on {address}: {why}"))
        })?;
        Ok(Server { listener, site })
    }

    /// The address it listens on, as a URL.
    pub fn url(&self) -> String {
        match self.listener.local_addr() {
            Ok(a) => format!("http://{a}/web/"),
            Err(e) => format!("(no address: {e})"),
        }
    }

    /// Answers requests until the process ends, every connection at once on this thread.
    /// A connection that fails (the client went away, or sent no HTTP) is dropped, after
    /// a 400 where it sent something that is not HTTP; the server goes on.
    pub fn run(self) -> Result<()> {
        let io = |e: std::io::Error| Error::Config(format!("serving: {e}"));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().map_err(io)?;
        // It answers for as long as the process lives, so the site may too.
        let site: &'static Site = Box::leak(Box::new(self.site));
        self.listener.set_nonblocking(true).map_err(io)?;
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::from_std(self.listener).map_err(io)?;
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let service = hyper::service::service_fn(move |request| async move {
                    Ok::<_, std::convert::Infallible>(site.response(&request))
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        })
    }
}

impl Site {
    /// [`Site::answer`] as an HTTP response.
    fn response<B>(&'static self, request: &hyper::Request<B>) -> hyper::Response<Full<Bytes>> {
        let uri = request.uri();
        let answer = self.answer(request.method().as_str(), uri.path_and_query().map_or(uri.path(), |p| p.as_str()));
        let mut response = hyper::Response::builder().status(answer.status).header("Content-Type", answer.content_type);
        if let Some(location) = answer.location {
            response = response.header("Location", location);
        }
        response.body(Full::new(Bytes::from_static(answer.body))).expect("a valid response")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_page_is_served() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut files = Vec::new();
        let mut dirs = vec![web.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.strip_prefix(&web).unwrap().to_string_lossy().replace('\\', "/");
                // The web crate's own sources and the .d.ts files are not the page.
                if name == "src" || name == "Cargo.toml" || name.ends_with(".d.ts") {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(format!("/web/{name}"));
                }
            }
        }
        let site = Site::new(None);
        for file in files {
            assert_eq!(site.answer("GET", &file).status, 200, "{file} is in web/ but not served: add it to PAGE");
        }
    }
}
