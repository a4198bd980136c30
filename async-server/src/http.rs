//! hyper's types to and from the core's: a request's head and header lines in, an answer out.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::LazyLock;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION};
use hyper::{Request, Response, StatusCode, Version as HyperVersion};
use shared::{Answer, Field, Head, Identity, Value, Version};

pub fn head(request: &Request<Incoming>) -> Head<'_> {
    let target = request.uri().path_and_query();
    Head {
        method: request.method().as_str(),
        target: target.map_or("/", |target| target.as_str()),
        version: match request.version() {
            HyperVersion::HTTP_10 => Version::Http10,
            HyperVersion::HTTP_11 => Version::Http11,
            _ => Version::Other,
        },
    }
}

pub fn headers(request: &Request<Incoming>) -> impl Iterator<Item = (&str, &[u8])> {
    let headers = request.headers().iter();
    headers.map(|(name, value)| (name.as_str(), value.as_bytes()))
}

/// The answer to `request`, as answered by the thread `me`.
pub fn response<T>(request: &Request<T>, answer: Answer, me: Identity) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::from_u16(answer.status).expect("a valid status");
    // Room for every field at once: a map grown field by field is rebuilt on the way.
    *response.headers_mut() = HeaderMap::with_capacity(Field::ALL.len() + 1);
    let headers = response.headers_mut();
    for (field, value) in answer.headers(me) {
        headers.insert(header_name(field), header_value(value));
    }
    if closes_after_http_1_0(request) {
        // hyper closes such a connection after the answer without saying so, as HTTP/1.0
        // allows; the interface has every closing answer say it.
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    *response.body_mut() = Full::new(match answer.body {
        Cow::Borrowed(text) => Bytes::from_static(text.as_bytes()),
        Cow::Owned(text) => Bytes::from(text),
    });
    response
}

/// Whether `request` is HTTP/1.0 without `Connection: keep-alive`.
fn closes_after_http_1_0<T>(request: &Request<T>) -> bool {
    let keep_alive = |value: &HeaderValue| shared::says(value.as_bytes(), "keep-alive");
    request.version() == HyperVersion::HTTP_10
        && !request.headers().get_all(CONNECTION).iter().any(keep_alive)
}

/// `number` as a header value. The same few numbers go out again and again (this thread's and
/// this process's ids), so each thread keeps the last few formatted rather than format and
/// allocate them for every answer.
fn number_value(number: u64) -> HeaderValue {
    thread_local! {
        static FORMATTED: RefCell<Vec<(u64, HeaderValue)>> = const { RefCell::new(Vec::new()) };
    }
    const KEPT: usize = 4;
    FORMATTED.with_borrow_mut(|formatted| {
        if let Some((_, value)) = formatted.iter().find(|(kept, _)| *kept == number) {
            return value.clone();
        }
        let value = HeaderValue::from(number);
        if formatted.len() == KEPT {
            formatted.remove(0);
        }
        formatted.push((number, value.clone()));
        value
    })
}

/// The core's field as hyper's name, made once per field (hyper keeps names in lower case).
fn header_name(field: Field) -> HeaderName {
    static NAMES: LazyLock<Vec<HeaderName>> = LazyLock::new(|| {
        let name = |field: &Field| HeaderName::from_bytes(field.as_str().as_bytes());
        Field::ALL
            .iter()
            .map(name)
            .collect::<Result<_, _>>()
            .expect("valid names")
    });
    NAMES[field as usize].clone()
}

fn header_value(value: Value) -> HeaderValue {
    match value {
        Value::Text(text) => HeaderValue::from_static(text),
        Value::Number(number) => number_value(number),
        // Taken from a request header, so it is a valid header value.
        Value::Echo(text) => HeaderValue::from_str(text).expect("a request header's value"),
    }
}
