//! The browser pages of the connect flows: the partner's brand in the title and header
//! (never this software's name), one heading and a few sentences, everything escaped.
//! Pages never show a token, a code, a state or a secret.

use crate::html::escape;
use crate::state::AppState;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::TenantId;

/// The name a tenant's pages carry: its partner's brand, else the partner's name. `None`
/// when the tenant (or its partner) is unknown; pages then carry no name at all.
pub async fn brand_of(app: &AppState, tenant: Option<&TenantId>) -> Option<String> {
    let tenant = app.store.tenant(tenant?).await.ok()??;
    let partner = app.store.partner(&tenant.partner).await.ok()??;
    Some(partner.brand.unwrap_or(partner.name))
}

/// A complete page: `body` is already-escaped HTML; `heading` is escaped here.
#[must_use]
pub fn page(
    status: StatusCode,
    brand: Option<&str>,
    heading: &str,
    body: &str,
    extra_head: &str,
) -> Response {
    let title = match brand {
        Some(b) => format!("{} · {}", escape(b), escape(heading)),
        None => escape(heading),
    };
    let header_html = brand
        .map(|b| format!("<header><strong>{}</strong></header>", escape(b)))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>{title}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}}\
header{{font-size:1.1rem;margin-bottom:2rem}}button{{font-size:1rem;padding:.5rem 1rem}}</style>\
{extra_head}</head><body>{header_html}<main><h1>{}</h1>{body}</main></body></html>\n",
        escape(heading)
    );
    let mut resp = (status, html).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // These pages follow a one-time link or state; nothing should keep or forward them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// A page of plain sentences (each escaped).
#[must_use]
pub fn message(status: StatusCode, brand: Option<&str>, heading: &str, lines: &[&str]) -> Response {
    let body: String = lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| format!("<p>{}</p>", escape(l)))
        .collect();
    page(status, brand, heading, &body, "")
}

/// The page for a link or state that was not accepted. An unknown one answers the same
/// page without any brand whatever it claims to be, so a made-up `<tenant>.junk` cannot
/// reveal which partner a tenant id belongs to.
#[must_use]
pub fn refused(brand: Option<&str>, refusal: &super::links::Refusal, what: &str) -> Response {
    use super::links::Refusal;
    match refusal {
        Refusal::OtherBrowser => message(
            StatusCode::BAD_REQUEST,
            None,
            "Finish in the same browser",
            &[
                &format!(
                    "This {what} must finish in the browser where the connect link was opened, with cookies allowed."
                ),
                "Open a new connect link in one browser and complete every step there. Nothing was changed.",
            ],
        ),
        Refusal::Unknown => message(
            StatusCode::BAD_REQUEST,
            None,
            "This link no longer works",
            &[
                &format!("This {what} is unknown or was already used; each one works once."),
                "Ask for a new connect link and start again. Nothing was changed.",
            ],
        ),
        Refusal::Expired => message(
            StatusCode::BAD_REQUEST,
            brand,
            "This link has expired",
            &[
                &format!("This {what} expired before it was used."),
                "Ask for a new connect link and start again. Nothing was changed.",
            ],
        ),
        Refusal::OtherKind(label) => message(
            StatusCode::BAD_REQUEST,
            brand,
            "This link is for another kind of account",
            &[
                &format!("This {what} was made to connect {label}; it has now been used up."),
                "Ask for a new connect link of the right kind. Nothing was changed.",
            ],
        ),
        Refusal::Store(e) => {
            tracing::error!(error = %e, "connect: storage failure");
            unavailable(brand)
        }
        // The record is spent either way; its sealed value names no token.
        Refusal::Sealed(e) => {
            tracing::error!(error = %e, "connect: a sealed choice did not open");
            unavailable(brand)
        }
    }
}

/// Something on our side failed; nothing was written.
#[must_use]
pub fn unavailable(brand: Option<&str>) -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        brand,
        "Something went wrong",
        &[
            "The connection could not be completed. Nothing was changed; please try again with a new link.",
        ],
    )
}
