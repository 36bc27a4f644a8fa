//! Writing the portal's HTML: escaping, the page frame (navigation, sign-out form, skip link),
//! tables and forms. Every text that comes from data goes through [`esc`]; nothing builds
//! markup from unescaped input.

use std::fmt::Write;

/// `text` escaped for an HTML text node or a quoted attribute value.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` percent-encoded for a URL query value or path segment.
pub(super) fn url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A time as the portal shows it: `2026-12-06 04:25 UTC`.
pub(super) fn when(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// An operator's navigation entries: (path, label).
const OPERATOR_NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/customers", "Customers"),
    ("/certificates", "Certificates"),
    ("/support", "Support"),
];

/// A customer's navigation entries: (path, label).
const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/keys", "Credentials and MAC keys"),
    ("/accounts", "Accounts"),
    ("/certificates", "Certificates"),
    ("/validations", "Validations"),
    ("/support", "Support"),
];

/// Who is signed in, for the frame.
pub(super) struct Frame<'a> {
    /// The customer's name; `None`: an operator credential.
    pub(super) customer: Option<&'a str>,
    /// The credential that signed in.
    pub(super) credential: &'a str,
    /// The session's CSRF token, for the sign-out form.
    pub(super) csrf: &'a str,
    /// The path of the page (its navigation entry is marked current).
    pub(super) current: &'a str,
}

/// A whole page: `title`, then `body` (already HTML) inside the frame when signed in.
pub(super) fn page(title: &str, frame: Option<&Frame<'_>>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · Ferrite</title>\n<link rel=\"stylesheet\" href=\"/assets/portal.css\">\n\
         <script src=\"/assets/portal.js\" defer></script>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\n<header>\n<p class=\"brand\">Ferrite</p>\n",
        esc(title)
    );
    if let Some(f) = frame {
        out.push_str("<nav aria-label=\"Portal\">\n<ul>\n");
        let nav = if f.customer.is_some() {
            NAV
        } else {
            OPERATOR_NAV
        };
        for (path, label) in nav {
            let current = if *path == f.current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = writeln!(out, "<li><a href=\"{path}\"{current}>{label}</a></li>");
        }
        let _ = write!(
            out,
            "</ul>\n</nav>\n<form class=\"signout\" method=\"post\" action=\"/sign-out\">\
             <span>{} · credential <code>{}</code></span> {}\
             <button type=\"submit\">Sign out</button></form>\n",
            f.customer.map_or_else(|| "Operator".to_owned(), esc),
            esc(f.credential),
            csrf_field(f.csrf)
        );
    }
    let _ = write!(
        out,
        "</header>\n<main id=\"main\">\n<h1>{}</h1>\n{body}</main>\n</body>\n</html>\n",
        esc(title)
    );
    out
}

/// The hidden CSRF field every POST form carries.
pub(super) fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

/// A table with a caption: `head` the column names, `rows` each row's cells (already HTML).
/// With no rows, `empty` in a paragraph instead.
pub(super) fn table(caption: &str, head: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p class=\"empty\">{}</p>\n", esc(empty));
    }
    let mut out = format!("<table>\n<caption>{}</caption>\n<thead><tr>", esc(caption));
    for h in head {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// A status word in a badge (`active`, `revoked`, …), its class the word itself.
pub(super) fn badge(status: &str) -> String {
    let class: String = status
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("<span class=\"badge {class}\">{}</span>", esc(status))
}

/// A notice: `kind` is `error` (with `role="alert"`) or `ok`.
pub(super) fn notice(kind: &str, html: &str) -> String {
    let role = if kind == "error" {
        " role=\"alert\""
    } else {
        ""
    };
    format!("<div class=\"notice {kind}\"{role}>{html}</div>\n")
}

/// Text to copy: a labelled `<pre>` with id `id` and a copy button (shown only where scripts
/// run; without them the text is selected by hand).
pub(super) fn copyable(id: &str, label: &str, text: &str) -> String {
    format!(
        "<div class=\"copy\"><h3 id=\"{id}-label\">{}</h3>\
         <pre aria-labelledby=\"{id}-label\"><code id=\"{id}\">{}</code></pre>\
         <button type=\"button\" class=\"copy-button\" data-copy=\"{id}\" hidden>Copy</button></div>\n",
        esc(label),
        esc(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_data_is_escaped() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(url("a b/é&"), "a%20b%2F%C3%A9%26");
    }

    #[test]
    fn a_page_marks_its_navigation_entry_and_carries_the_csrf_token() {
        let frame = Frame {
            customer: Some("acme<"),
            credential: "c1",
            csrf: "tok",
            current: "/keys",
        };
        let html = page("Keys", Some(&frame), "<p>x</p>");
        assert!(html.contains("<a href=\"/keys\" aria-current=\"page\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"tok\">"));
        assert!(html.contains("acme&lt;"));
        assert!(html.contains("<main id=\"main\">\n<h1>Keys</h1>"));
    }
}
