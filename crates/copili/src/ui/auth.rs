//! The dashboard's token: with one set (`--token`, `--token-file`), every request must carry
//! it, as `Authorization: Bearer TOKEN`, as the cookie `copili_token` (which the page sets when
//! opened once as `/?token=TOKEN`, for the browser's later requests and its event streams), or
//! as `?token=TOKEN` on the request itself. Without one (loopback only), everything is allowed.
//! Tokens are compared in constant time.

use percent_encoding::percent_decode_str;

/// The cookie that carries the token.
pub const COOKIE: &str = "copili_token";

/// What a request's credentials allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Go on.
    Allowed,
    /// The token came in the query: go on, and set the cookie (the page then drops the token
    /// from its address).
    AllowedSetCookie,
    /// 401.
    Denied,
}

/// The credentials of one request.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Cookie` header.
    pub cookie: Option<&'a str>,
    /// The query string.
    pub query: Option<&'a str>,
}

/// Whether `credentials` carry `token` (everything is allowed without a token).
pub fn check(token: Option<&str>, credentials: &Credentials<'_>) -> Access {
    let Some(token) = token else { return Access::Allowed };
    let bearer = credentials.authorization.and_then(|value| value.strip_prefix("Bearer ")).map(str::trim);
    if bearer.is_some_and(|given| same(given.as_bytes(), token.as_bytes())) {
        return Access::Allowed;
    }
    let from_cookie = credentials
        .cookie
        .into_iter()
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .map(|value| percent_decode_str(value).collect::<Vec<u8>>());
    if from_cookie.into_iter().any(|given| same(&given, token.as_bytes())) {
        return Access::Allowed;
    }
    let from_query = credentials
        .query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .filter_map(|pair| pair.strip_prefix("token="))
        .map(|value| percent_decode_str(value).collect::<Vec<u8>>());
    for given in from_query {
        if same(&given, token.as_bytes()) {
            return Access::AllowedSetCookie;
        }
    }
    Access::Denied
}

/// The `Set-Cookie` value that hands the token to the browser: not readable by scripts, sent
/// to this server only, on every path.
pub fn set_cookie(token: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC);
    format!("{COOKIE}={encoded}; HttpOnly; SameSite=Strict; Path=/")
}

/// Equal in constant time for inputs of the same length (the length itself may show).
fn same(given: &[u8], token: &[u8]) -> bool {
    if given.len() != token.len() {
        return false;
    }
    given.iter().zip(token).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_with(authorization: Option<&str>, cookie: Option<&str>, query: Option<&str>) -> Access {
        check(Some("s3cret+/x"), &Credentials { authorization, cookie, query })
    }

    #[test]
    fn without_a_token_everything_is_allowed() {
        assert_eq!(check(None, &Credentials::default()), Access::Allowed);
    }

    #[test]
    fn the_token_in_a_header_a_cookie_or_the_query() {
        assert_eq!(check_with(Some("Bearer s3cret+/x"), None, None), Access::Allowed);
        assert_eq!(check_with(None, Some("a=b; copili_token=s3cret+/x"), None), Access::Allowed);
        // The cookie as this server sets it: percent-encoded.
        let cookie = set_cookie("s3cret+/x");
        let value = cookie.split(';').next().expect("a pair");
        assert_eq!(value, "copili_token=s3cret%2B%2Fx");
        assert_eq!(check_with(None, Some(value), None), Access::Allowed);
        assert_eq!(check_with(None, None, Some("token=s3cret%2B%2Fx")), Access::AllowedSetCookie);
        assert_eq!(check_with(None, None, Some("a=1&token=s3cret+/x")), Access::AllowedSetCookie);
    }

    #[test]
    fn anything_else_is_denied() {
        assert_eq!(check_with(None, None, None), Access::Denied);
        assert_eq!(check_with(Some("Bearer s3cret"), None, None), Access::Denied);
        assert_eq!(check_with(Some("Basic s3cret+/x"), None, None), Access::Denied);
        assert_eq!(check_with(None, Some("copili_token=wrong"), Some("token=")), Access::Denied);
        assert_eq!(check_with(None, Some("xcopili_token=s3cret+/x"), None), Access::Denied);
    }
}
