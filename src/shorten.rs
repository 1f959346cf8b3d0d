//! Long text cut for messages: a rejected config value or a malformed line of host text can
//! be megabytes long, and an error message quotes it.

use std::borrow::Cow;

/// `text` cut after `chars` characters, saying how long it was.
pub fn shorten(text: &str, chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(chars) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}... ({} bytes in all)", &text[..cut], text.len())),
    }
}

/// A config value for an error message: quoted, and cut at 200 characters so that a rejected
/// 10 MB value does not flood the terminal.
pub fn quote(value: &str) -> String {
    const SHOWN: usize = 200;
    match value.char_indices().nth(SHOWN) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes in all)", &value[..cut], value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_long_text_only() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("ééééé", 2), "éé... (10 bytes in all)");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert!(quote(&"x".repeat(1000)).ends_with("... (1000 bytes in all)"));
    }
}
