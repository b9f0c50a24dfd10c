//! hyper's HTTP/1 server on a current-thread tokio runtime: accepts connections (at most
//! [`limits::MAX_CONNECTIONS`]), answers each request from the routes, and stops when told.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt as _, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use crate::ui::auth::{self, Access, Credentials};
use crate::ui::catalog::Catalog;
use crate::ui::routes::{self, Refused, Route};
use crate::ui::{limits, pages, reports, sse, DashboardConfig, UiError};

type Body = BoxBody<Bytes, Infallible>;

/// What every request handler shares.
struct Shared {
    catalog: Catalog,
    token: Option<String>,
    streams: Arc<Semaphore>,
}

/// How often the accept loop looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(200);

pub(super) fn serve(
    listener: std::net::TcpListener,
    config: DashboardConfig,
    stop: Arc<AtomicBool>,
) -> Result<(), UiError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(UiError::Runtime)?;
    let shared = Arc::new(Shared {
        catalog: Catalog::new(config.state_dirs),
        token: config.token,
        streams: Arc::new(Semaphore::new(limits::MAX_STREAMS)),
    });
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(UiError::Runtime)?;
        let connections = Arc::new(Semaphore::new(limits::MAX_CONNECTIONS));
        while !stop.load(Ordering::SeqCst) {
            let Ok(accepted) = tokio::time::timeout(STOP_CHECK, listener.accept()).await else { continue };
            let Ok((stream, _)) = accepted else {
                // Out of file descriptors and the like: try again a little later.
                tokio::time::sleep(STOP_CHECK).await;
                continue;
            };
            // Over the bound: the connection is closed at once.
            let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else { continue };
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(move |request| {
                    let shared = Arc::clone(&shared);
                    async move { Ok::<_, Infallible>(handle(&shared, &request)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits::HEADER_READ_TIMEOUT)
                    .max_buf_size(limits::MAX_HEAD_BYTES)
                    .max_headers(limits::MAX_HEADERS)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
        Ok(())
    })
}

/// The answer to one request.
fn handle<B>(shared: &Shared, request: &Request<B>) -> Response<Body> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    }
    let header = |name: header::HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
    let credentials = Credentials {
        authorization: header(header::AUTHORIZATION),
        cookie: header(header::COOKIE),
        query: request.uri().query(),
    };
    let access = auth::check(shared.token.as_deref(), &credentials);
    if access == Access::Denied {
        let mut response = text(
            StatusCode::UNAUTHORIZED,
            "a token is needed: open /?token=TOKEN once, or send Authorization: Bearer TOKEN\n",
        );
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let mut response = match routes::route(request.uri().path()) {
        Err(Refused::NotFound) => text(StatusCode::NOT_FOUND, "not found\n"),
        Err(Refused::BadPath) => text(StatusCode::BAD_REQUEST, "bad path\n"),
        Ok(route) => answer(shared, route),
    };
    if let (Access::AllowedSetCookie, Some(token)) = (access, &shared.token) {
        if let Ok(value) = HeaderValue::from_str(&auth::set_cookie(token)) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn answer(shared: &Shared, route: Route) -> Response<Body> {
    match route {
        Route::Index => {
            let mut response = bytes(StatusCode::OK, "text/html; charset=utf-8", pages::INDEX.as_bytes().to_vec());
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(pages::CSP));
            response
        }
        Route::Overview => match serde_json::to_vec(&shared.catalog.overview()) {
            Ok(json) => bytes(StatusCode::OK, "application/json", json),
            Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the overview would not serialize\n"),
        },
        Route::Metrics => {
            let metrics = shared.catalog.metrics();
            let body = crate::report::metrics::render(&metrics.iter().collect::<Vec<_>>());
            bytes(StatusCode::OK, crate::report::metrics::CONTENT_TYPE, body.into_bytes())
        }
        Route::Report { dir, name, run_id } => {
            let Some(entry) = shared.catalog.find(dir, &name) else { return not_found() };
            let Some((_, report)) = shared.catalog.report(&entry, &run_id) else { return not_found() };
            let live = crate::run_files::read_live(&crate::run_files::runs_dir(&entry.state_file));
            let rendered = reports::render_run_report(&report, live.as_ref().map(|l| l.log_dir.as_path()));
            bytes(StatusCode::OK, rendered.content_type, rendered.body)
        }
        Route::Log { dir, name, container } => {
            let Some(entry) = shared.catalog.find(dir, &name) else { return not_found() };
            let Some(path) = shared.catalog.log_file(&entry, &container) else { return not_found() };
            let Ok(permit) = Arc::clone(&shared.streams).try_acquire_owned() else {
                return text(StatusCode::SERVICE_UNAVAILABLE, "too many live logs open\n");
            };
            let mut response = Response::new(sse::log_events(path, permit).boxed());
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            response
        }
    }
}

fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found\n")
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    bytes(status, "text/plain; charset=utf-8", body.as_bytes().to_vec())
}

fn bytes(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
