//! Plain-text replies: the content type every body has (`docs/SERVICES.md`) and the one function that builds one.

use actix_web::{HttpResponse, http::StatusCode, http::header::CONTENT_TYPE};

/// Content type of every body the services answer with.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// Builds a `text/plain; charset=utf-8` response with `status` and `body`.
pub fn text(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, TEXT_PLAIN))
        .body(body)
}
