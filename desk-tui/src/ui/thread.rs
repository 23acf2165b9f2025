//! The thread screen: the conversation with its draft under it, the thread list beside it
//! when there is room, and the context pane (customer, channel, window, credits, the facts
//! the draft used).

use super::inbox;
use super::media;
use super::theme::Theme;
use crate::app::{App, ImageSlot, OpenThread, Pane};
use crate::model::detail::{Author, Item, STORY_LIFETIME, Story};
use crate::model::inbox::Entry;
use crate::model::status::{RowStatus, WindowInfo, duration};
use crate::model::summary::SendState;
use protocol::window::{self, Sender};
use protocol::{Channel, CustomerId, DraftAuthor, Millis};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let Some(open) = &app.open else {
        inbox::draw(app, theme, frame, area);
        return;
    };
    let Some(entry) = app.inbox.get(open.profile, &open.thread) else {
        inbox::draw(app, theme, frame, area);
        return;
    };
    if let Some(row) = entry.mention() {
        super::mention::draw(app, row, theme, frame, area);
        return;
    }
    if area.width >= 150 {
        let [list, talk, side] = Layout::horizontal([
            Constraint::Length(44),
            Constraint::Fill(1),
            Constraint::Length(38),
        ])
        .areas(area);
        inbox::list(app, theme, frame, list, false, true);
        conversation(app, open, entry, theme, frame, talk);
        context(app, open, entry, theme, frame, side);
    } else if area.width >= 110 && app.pane != Pane::List {
        let [talk, side] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(38)]).areas(area);
        conversation(app, open, entry, theme, frame, talk);
        context(app, open, entry, theme, frame, side);
    } else if app.pane == Pane::Context {
        context(app, open, entry, theme, frame, area);
    } else if app.pane == Pane::List {
        inbox::list(app, theme, frame, area, false, false);
    } else {
        conversation(app, open, entry, theme, frame, area);
    }
}

/// The columns an inline image may take in the conversation pane of a terminal `width`
/// columns wide (the narrowest layout at that width: list and context beside it).
#[must_use]
pub fn image_room(width: u16) -> u16 {
    let pane = if width >= 150 {
        width - 44 - 38
    } else if width >= 110 {
        width - 38
    } else {
        width
    };
    pane.saturating_sub(media::INDENT + 1)
}

fn focus_block<'a>(app: &App, pane: Pane, title: String, theme: &Theme) -> Block<'a> {
    let style = if app.pane == pane {
        theme.focus()
    } else {
        theme.title()
    };
    Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(title, style))
}

/// A time as "14:05" (UTC) on the day of `now`, else "11-20 14:05".
#[must_use]
pub fn clock(at: Millis, now: Millis) -> String {
    let day = at.0.div_euclid(Millis::DAY);
    let minutes = at.0.rem_euclid(Millis::DAY) / Millis::MINUTE;
    let hm = format!("{:02}:{:02}", minutes / 60, minutes % 60);
    if day == now.0.div_euclid(Millis::DAY) {
        hm
    } else {
        let (_, m, d) = civil(day);
        format!("{m:02}-{d:02} {hm}")
    }
}

/// A time in full: "2026-11-22 14:05 UTC".
#[must_use]
pub fn full_time(at: Millis) -> String {
    let (y, m, d) = civil(at.0.div_euclid(Millis::DAY));
    let minutes = at.0.rem_euclid(Millis::DAY) / Millis::MINUTE;
    format!(
        "{y}-{m:02}-{d:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn send_words(state: &SendState) -> String {
    match state {
        SendState::Queued => "⧗ queued".into(),
        SendState::Sending { attempt } if *attempt > 1 => format!("↻ sending (attempt {attempt})"),
        SendState::Sending { .. } => "↻ sending".into(),
        SendState::Sent => "✓ sent".into(),
        SendState::Delivered => "✓✓ delivered".into(),
        SendState::Read => "👁 read".into(),
        SendState::Failed {
            message,
            retry_at: Some(_),
            ..
        } => format!("↻ retrying: {message}"),
        SendState::Failed { message, class, .. } => {
            format!(
                "✗ failed ({}): {message} — R retry, D give up",
                class.name()
            )
        }
        SendState::Discarded => "– given up".into(),
    }
}

/// A story line: its link while the story lives, else that it has expired.
fn story_words(story: &Story, at: Millis, now: Millis) -> String {
    let what = if story.mention {
        "@ mentioned you in their story"
    } else {
        "↩ replied to your story"
    };
    let ends = at.plus(STORY_LIFETIME);
    match &story.url {
        Some(url) if now < ends => {
            format!("{what}: {url} (live until {} at most)", clock(ends, now))
        }
        Some(_) => format!("{what} (expired; Meta's link no longer works)"),
        None => what.to_owned(),
    }
}

fn conversation(
    app: &App,
    open: &OpenThread,
    entry: &Entry,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let Some(row) = entry.thread() else {
        return;
    };
    let title = format!(
        " {} · {} ",
        row.customer.display(),
        channel_name(row.channel)
    );
    let block = focus_block(app, Pane::Conversation, title, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let me = app.profiles.get(open.profile).map(|p| p.me.clone());
    let numbers: std::collections::HashMap<(&str, usize), usize> = open
        .detail
        .media()
        .iter()
        .map(|m| ((m.message, m.media.n), m.number))
        .collect();
    let mut lines: Vec<Line> = Vec::new();
    // Lines that carry more than text: (index in `lines`, what goes there).
    let mut extras: Vec<(usize, media::Extra)> = Vec::new();
    for item in &open.detail.items {
        match item {
            Item::Note(note) => {
                lines.push(Line::styled(format!("   · {}", note.text), theme.dim()))
            }
            // Set apart from the conversation (a marked, indented line in the warning
            // style) so nobody mistakes it for something the customer saw.
            Item::Private(note) => {
                let who = if Some(&note.agent) == me.as_ref() {
                    "you".to_owned()
                } else {
                    note.agent.as_str().to_owned()
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{} ", clock(note.at, app.now)), theme.dim()),
                    Span::styled(format!("✎ note by {who} (not sent): "), theme.warn()),
                    Span::styled(note.text.clone(), theme.warn()),
                ]));
            }
            Item::Line(line) => {
                let (who, style) = match &line.author {
                    Author::Customer => (row.customer.handle(), theme.customer()),
                    Author::Business => ("business (Meta app)".to_owned(), theme.ours()),
                    Author::Desk(agent) if Some(agent) == me.as_ref() => {
                        ("you".to_owned(), theme.ours())
                    }
                    Author::Desk(agent) if agent.as_str() == "drafter" => {
                        ("auto-reply".to_owned(), theme.ours())
                    }
                    Author::Desk(agent) => (agent.as_str().to_owned(), theme.ours()),
                };
                let mut spans = vec![
                    Span::styled(format!("{} ", clock(line.at, app.now)), theme.dim()),
                    Span::styled(format!("{who}: "), style),
                ];
                if line.deleted {
                    // Meta asks apps to drop what a customer unsent: the mark, never the text.
                    spans.push(Span::styled("(unsent by the customer)", theme.dim()));
                    lines.push(Line::from(spans));
                    continue;
                }
                if line.hidden {
                    spans.push(Span::styled("(hidden) ", theme.warn()));
                }
                spans.push(Span::raw(line.text.clone()));
                if line.edits > 0 {
                    let times = if line.edits > 1 {
                        format!(" ×{}", line.edits)
                    } else {
                        String::new()
                    };
                    let how = if open.show_edits || line.previous.is_empty() {
                        ""
                    } else {
                        ", :edits"
                    };
                    spans.push(Span::styled(format!(" (edited{times}{how})"), theme.dim()));
                }
                lines.push(Line::from(spans));
                if open.show_edits {
                    for before in &line.previous {
                        lines.push(Line::styled(format!("      before: {before}"), theme.dim()));
                    }
                }
                if let Some(story) = &line.story {
                    lines.push(Line::styled(
                        format!("      {}", story_words(story, line.at, app.now)),
                        theme.dim(),
                    ));
                }
                for m in &line.media {
                    let Some(number) = line.mid.as_deref().and_then(|mid| numbers.get(&(mid, m.n)))
                    else {
                        continue;
                    };
                    let text = format!("[{number}] {}", m.label);
                    if let (Some(base), Some(mid)) = (&app.media_links, &line.mid) {
                        let url = crate::app::MediaKey {
                            profile: open.profile,
                            message: mid.clone(),
                            n: m.n,
                        }
                        .url(base);
                        extras.push((
                            lines.len(),
                            media::Extra::Link {
                                url,
                                text: text.clone(),
                            },
                        ));
                    }
                    lines.push(Line::from(vec![
                        Span::raw("      "),
                        Span::styled(text, theme.focus()),
                    ]));
                    let key = crate::app::MediaKey {
                        profile: open.profile,
                        message: line.mid.clone().unwrap_or_default(),
                        n: m.n,
                    };
                    if let Some(ImageSlot::Ready(image)) = app.images.get(&key) {
                        extras.push((lines.len(), media::Extra::Image(image.clone())));
                        for _ in 0..image.rows {
                            lines.push(Line::raw(""));
                        }
                    }
                }
                for note in &line.notes {
                    lines.push(Line::styled(format!("      {note}"), theme.dim()));
                }
                if !line.reactions.is_empty() {
                    lines.push(Line::styled(
                        format!("      reacted {}", line.reactions.join(" ")),
                        theme.dim(),
                    ));
                }
                if let Some(state) = &line.send {
                    let style = match state {
                        SendState::Failed { retry_at: None, .. } => theme.error(),
                        SendState::Delivered | SendState::Read | SendState::Sent => theme.ok(),
                        _ => theme.focus(),
                    };
                    lines.push(Line::styled(format!("      {}", send_words(state)), style));
                }
            }
        }
    }
    if row.owner_replying {
        lines.push(Line::styled(
            "   ☛ someone answered from Meta's app: drafting is paused here (u resumes it)",
            theme.warn(),
        ));
    }
    if let Some(p) = app.pending_for(open.profile, &open.thread).last() {
        lines.push(Line::styled(
            format!("   ⧗ {}… (waiting for the relay)", p.label),
            theme.focus(),
        ));
    }
    if let Some(notice) = app.notices.get(&(open.profile, open.thread.clone())) {
        lines.push(Line::styled(format!("   ✗ {notice}"), theme.error()));
    }
    draft_lines(app, open, entry, theme, &mut lines);
    // Rows each line takes once wrapped, exactly as the paragraph wraps it, so that what is
    // drawn over the text (images, links) lands on its own rows.
    let rows: Vec<usize> = lines
        .iter()
        .map(|l| {
            Paragraph::new(l.clone())
                .wrap(Wrap { trim: false })
                .line_count(inner.width.max(1))
                .max(1)
        })
        .collect();
    let total: usize = rows.iter().sum();
    let height = usize::from(inner.height);
    let bottom = total.saturating_sub(height);
    let top = bottom.saturating_sub(usize::from(open.scroll));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((u16::try_from(top).unwrap_or(u16::MAX), 0)),
        inner,
    );
    for (index, extra) in extras {
        let row: usize = rows.iter().take(index).sum();
        media::draw(frame, inner, row, top, &extra);
    }
}

fn draft_lines(
    app: &App,
    open: &OpenThread,
    entry: &Entry,
    theme: &Theme,
    lines: &mut Vec<Line<'static>>,
) {
    let Some(row) = entry.thread() else {
        return;
    };
    if let Some(reason) = &row.handoff {
        lines.push(Line::styled(
            format!("   ☛ needs a person: {reason} (r to reply)"),
            theme.warn(),
        ));
    }
    let Some(draft) = open.detail.current_draft(row) else {
        return;
    };
    lines.push(Line::raw(""));
    let by = match &draft.author {
        DraftAuthor::Drafter => "drafter".to_owned(),
        DraftAuthor::Agent(a) => a.as_str().to_owned(),
    };
    let status = RowStatus::of(row);
    let verdict = match &status {
        RowStatus::Held { .. } => Span::styled("⚑ held for a person", theme.warn()),
        _ => Span::styled("◆ passed the checks", theme.ok()),
    };
    lines.push(Line::from(vec![
        Span::styled(
            format!("── Draft v{} by {by} · ", draft.version),
            theme.title(),
        ),
        verdict,
        Span::styled(" ──", theme.title()),
    ]));
    for text in draft.text.lines() {
        lines.push(Line::raw(format!("   {text}")));
    }
    if let Some(basis) = &draft.basis {
        for held in &basis.held {
            lines.push(Line::styled(format!("   ⚑ {held}"), theme.warn()));
        }
        if !basis.facts.is_empty() {
            lines.push(Line::styled(
                format!("   facts: {}", basis.facts.join("; ")),
                theme.dim(),
            ));
        }
    }
    let left = crate::model::summary::length_left(row.channel, &draft.text);
    let k = |a| app.keymap.hint(a);
    use crate::app::keymap::Action;
    lines.push(Line::styled(
        format!(
            "   {left} left · {} approve & send · {} edit · {} $EDITOR · {} discard",
            k(Action::Approve),
            k(Action::Edit),
            k(Action::EditExternal),
            k(Action::Discard)
        ),
        theme.dim(),
    ));
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::InstagramDm => "Instagram DM",
        Channel::InstagramComment => "Instagram comment",
        Channel::WhatsApp => "WhatsApp",
    }
}

fn context(
    app: &App,
    open: &OpenThread,
    entry: &Entry,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let Some(row) = entry.thread() else {
        return;
    };
    let block = focus_block(app, Pane::Context, " Context ".into(), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let label = |s: &str| Span::styled(format!("{s:<9}"), theme.dim());
    let mut lines = vec![Line::from(vec![
        label("customer"),
        Span::styled(row.customer.handle(), theme.customer()),
    ])];
    if let Some(name) = &row.customer.name {
        lines.push(Line::from(vec![label("name"), Span::raw(name.clone())]));
    }
    if let Some(p) = &open.detail.profile {
        let mut facts = Vec::new();
        if let Some(n) = p.follower_count {
            facts.push(format!("{n} followers"));
        }
        if p.follows_business == Some(true) {
            facts.push("follows you".to_owned());
        }
        if p.followed_by_business == Some(true) {
            facts.push("you follow them".to_owned());
        }
        if !facts.is_empty() {
            lines.push(Line::from(vec![
                label("profile"),
                Span::raw(facts.join(" · ")),
            ]));
        }
    }
    let id = match &row.customer.id {
        CustomerId::Igsid(_) => "Instagram user",
        CustomerId::InstagramUsername(_) => "Instagram commenter",
        CustomerId::WhatsApp(w) => w.as_str(),
    };
    lines.push(Line::from(vec![
        label("via"),
        Span::raw(format!("{} · {id}", channel_name(row.channel))),
    ]));
    if app.combined()
        && let Some(p) = app.profiles.get(open.profile)
    {
        lines.push(Line::from(vec![
            label("business"),
            Span::raw(p.tenant_name.clone()),
        ]));
    }
    let info = WindowInfo::of(row, app.now);
    let style = if info.closed() {
        theme.error()
    } else {
        theme.ok()
    };
    lines.push(Line::from(vec![
        label("window"),
        Span::styled(info.label(row.channel), style),
    ]));
    for allowance in window::allowed(&row.window(), Sender::Human, app.now) {
        let until = allowance
            .until
            .map(|u| format!(" ({} left)", duration(app.now.until(u))))
            .unwrap_or_default();
        lines.push(Line::styled(
            format!("          {:?}{until}", allowance.kind),
            theme.dim(),
        ));
    }
    let assignee = row
        .assignee
        .as_ref()
        .map_or_else(|| "nobody (c claims)".to_owned(), |a| a.as_str().to_owned());
    lines.push(Line::from(vec![label("assigned"), Span::raw(assignee)]));
    let credits = app
        .profiles
        .get(open.profile)
        .and_then(|p| p.credits)
        .map_or_else(|| "unknown".to_owned(), |c| c.to_string());
    let credit_style = if credits == "0" {
        theme.error()
    } else {
        Style::default()
    };
    lines.push(Line::from(vec![
        label("credits"),
        Span::styled(credits, credit_style),
    ]));
    if row.resolved {
        lines.push(Line::from(vec![
            label("state"),
            Span::raw("■ resolved (x reopens)"),
        ]));
    }
    if let Some(draft) = open.detail.current_draft(row)
        && let Some(basis) = &draft.basis
    {
        lines.push(Line::raw(""));
        lines.push(Line::styled("Draft grounded on", theme.title()));
        if basis.facts.is_empty() {
            lines.push(Line::styled("  no catalog facts", theme.dim()));
        }
        for fact in &basis.facts {
            lines.push(Line::raw(format!("  • {fact}")));
        }
        if !basis.intents.is_empty() {
            lines.push(Line::styled(
                format!("  intents: {}", basis.intents.join(", ")),
                theme.dim(),
            ));
        }
        lines.push(Line::styled(format!("  by: {}", basis.source), theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
