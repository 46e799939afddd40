//! Progress bars on stderr: drawn only when stderr is a terminal, never coloured
//! (so `NO_COLOR` holds by construction).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting `total` units of `what` ("rows", "bytes"), labelled `label`.
/// Hidden when stderr is not a terminal.
pub fn bar(total: u64, label: &str, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = if what == "bytes" {
        "{msg} [{bar:32}] {bytes}/{total_bytes} ({eta})".to_string()
    } else {
        format!("{{msg}} [{{bar:32}}] {{human_pos}}/{{human_len}} {what} ({{eta}})")
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(label.to_string());
    pb
}

/// A spinner labelled `label`, for work of unknown length. Hidden when stderr is
/// not a terminal.
pub fn spinner(label: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        pb.set_style(style);
    }
    pb.set_message(label.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}
