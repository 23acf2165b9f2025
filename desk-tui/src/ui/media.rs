//! What the thread screen draws over its text: attachment lines as OSC 8 hyperlinks (to
//! the desk's own loopback server, so terminals that support links open them on a click)
//! and inline images, each only when it is wholly on screen.

use crate::app::InlineImage;
use ratatui::Frame;
use ratatui::buffer::CellDiffOption;
use ratatui::layout::Rect;
use std::num::NonZeroU16;

/// The columns an attachment line is indented by; images line up with its text.
pub const INDENT: u16 = 6;

/// Something drawn over one line of the conversation.
#[derive(Clone, Debug)]
pub enum Extra {
    /// The line's text (after the indent) links to `url`.
    Link { url: String, text: String },
    /// The image takes the rows from this line on.
    Image(InlineImage),
}

/// Draws `extra`, which belongs at wrapped row `row` of a pane scrolled to `top`.
pub fn draw(frame: &mut Frame<'_>, inner: Rect, row: usize, top: usize, extra: &Extra) {
    let Some(offset) = row.checked_sub(top) else {
        return;
    };
    let height = usize::from(inner.height);
    let Ok(y) = u16::try_from(offset) else {
        return;
    };
    match extra {
        Extra::Link { url, text } => {
            if offset < height {
                hyperlink(frame, inner, inner.y + y, url, text);
            }
        }
        Extra::Image(image) => {
            let width = inner.width.saturating_sub(INDENT);
            if offset + usize::from(image.rows) > height || image.cols > width {
                return;
            }
            let area = Rect {
                x: inner.x + INDENT,
                y: inner.y + y,
                width: image.cols,
                height: image.rows,
            };
            frame.render_widget(ratatui_image::Image::new(&image.protocol), area);
        }
    }
}

/// Wraps the text already drawn at (`INDENT`, `y`) in an OSC 8 hyperlink: the first cell
/// carries the whole escaped text with its real width, the others are skipped, so the
/// diff neither miscounts the escape's width nor draws over it.
fn hyperlink(frame: &mut Frame<'_>, inner: Rect, y: u16, url: &str, text: &str) {
    let x = inner.x + INDENT;
    let room = inner.right().saturating_sub(x);
    let width = u16::try_from(unicode_width(text)).unwrap_or(u16::MAX);
    // A line cut by the pane's edge stays plain text rather than a link to half a label.
    let Some(forced) = NonZeroU16::new(width).filter(|w| w.get() <= room) else {
        return;
    };
    // Control characters in a URL would end the escape early: they never reach it.
    if url.chars().any(char::is_control) {
        return;
    }
    let buffer = frame.buffer_mut();
    let style = buffer[(x, y)].style();
    buffer[(x, y)]
        .set_symbol(&format!("\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\"))
        .set_style(style)
        .set_diff_option(CellDiffOption::ForcedWidth(forced));
    for dx in 1..width {
        buffer[(x + dx, y)].set_diff_option(CellDiffOption::Skip);
    }
}

fn unicode_width(text: &str) -> usize {
    ratatui::text::Span::raw(text).width()
}
