//! How values are quoted in every message, and how many problems one
//! message lists: shared by `messages` (which re-exports it) and by the
//! settings' own errors, so it sits below both and imports nothing.

/// Longer values are cut in messages: a hostile object must not make the
/// response larger than the request.
pub const MAX_QUOTED: usize = 256;

/// `s` as quoted in a message: at most [`MAX_QUOTED`] bytes (cut on a
/// character boundary), then its length in bytes.
pub fn clip(s: &str) -> String {
    if s.len() <= MAX_QUOTED {
        return s.to_string();
    }
    let mut cut = MAX_QUOTED;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &s[..cut], s.len())
}

/// At most this many problems are spelled out in one message (or returned
/// as warnings): a response must stay readable, and bounded whatever the
/// request holds.
pub const MAX_LISTED: usize = 20;

/// Joins at most [`MAX_LISTED`] problems with "; ", then says how many
/// more there are; problems past the limit are never rendered.
pub fn join_capped(problems: impl ExactSizeIterator<Item = String>) -> String {
    let total = problems.len();
    let mut message = problems.take(MAX_LISTED).collect::<Vec<_>>().join("; ");
    if total > MAX_LISTED {
        message.push_str(&format!("; and {} more problem(s)", total - MAX_LISTED));
    }
    message
}
