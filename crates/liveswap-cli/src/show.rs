//! Text read from a file, made safe to print: a name crafted to hold
//! escape sequences must not recolour, move or retitle the terminal, nor
//! make one line look like another.

use std::borrow::Cow;

/// Whether `c` is printed as an escape rather than as itself: a control
/// character (C0, such as ESC, CR and BEL; DEL; C1, such as CSI) or a
/// bidirectional formatting character (which reorders what follows it on
/// screen).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every such character written as its Rust escape (`\u{1b}`,
/// `\r`, `\u{9b}`); other text unchanged.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// JSON text (as `serde_json` writes it) with the characters it leaves
/// as they are and `escaped` would not (DEL, the C1 controls, the
/// bidirectional formatting characters) written as `\uXXXX` escapes.
/// `serde_json` already escapes the C0 controls in strings, so these can
/// only occur inside strings, where the escape means the same character:
/// the JSON reads back to the same values.
pub fn json_escaped(json: &str) -> Cow<'_, str> {
    let needs = |c: char| hidden(c) && c >= '\u{7f}';
    if !json.chars().any(needs) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if needs(c) {
            // All of them are in the Basic Multilingual Plane: one
            // `\uXXXX` each.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::{escaped, json_escaped};

    #[test]
    fn plain_text_is_printed_as_it_is() {
        let text = "fn check(&rules_api::Request) -> Verdict: naïve 名前 \"quoted\" \\";
        assert_eq!(escaped(text), text);
    }

    #[test]
    fn c0_controls_are_printed_as_escapes() {
        assert_eq!(
            escaped("\u{1b}[31mred\u{1b}[0m\r\u{7}\t\n\0"),
            "\\u{1b}[31mred\\u{1b}[0m\\r\\u{7}\\t\\n\\0"
        );
    }

    #[test]
    fn del_and_c1_controls_are_printed_as_escapes() {
        assert_eq!(
            escaped("a\u{7f}b\u{9b}31m\u{85}"),
            "a\\u{7f}b\\u{9b}31m\\u{85}"
        );
    }

    #[test]
    fn bidirectional_overrides_are_printed_as_escapes() {
        assert_eq!(
            escaped("safe\u{202e}cod.exe\u{2066}x\u{2069}"),
            "safe\\u{202e}cod.exe\\u{2066}x\\u{2069}"
        );
    }

    #[test]
    fn json_keeps_its_layout_and_reads_back_to_the_same_values() {
        let name = "a\u{1b}[31m\u{7f}\u{9b}2J\u{202e}z";
        let value = serde_json::json!({ "interface": name, "n": 1 });
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let out = json_escaped(&pretty);
        assert!(
            !out.chars()
                .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
            "{out}"
        );
        assert_eq!(out.lines().count(), pretty.lines().count());
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, value);
    }
}
