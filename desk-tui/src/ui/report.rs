//! The partner report: per tenant volume (a sparkline of daily messages), replies by how
//! they came about (bars), first-response time, held drafts and failures. Aggregates only:
//! the relay never sends message contents or contacts here. An owner sees the same band for
//! their own business, with a table of its people under it (replies, first-response and
//! resolution medians).

use super::theme::Theme;
use crate::app::{App, Remote};
use crate::model::status::duration;
use crate::remote::{AgentReport, TenantReport};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph, Sparkline, Wrap};

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let data = match &app.report {
        Remote::Loaded(data) => data,
        Remote::NotLoaded | Remote::Loading => {
            frame.render_widget(
                Paragraph::new(Line::styled(" loading the report…", theme.dim())),
                area,
            );
            return;
        }
        Remote::Failed(e) => {
            frame.render_widget(
                Paragraph::new(Line::styled(
                    format!(" ✗ could not load the report: {e}"),
                    theme.error(),
                ))
                .wrap(Wrap { trim: false }),
                area,
            );
            return;
        }
    };
    // The owner's own report: one business, with its people.
    if let [own] = data.tenants.as_slice()
        && !own.agents.is_empty()
    {
        owner(own, data.days, theme, frame, area);
        return;
    }
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        format!(
            " Report · {} businesses · last {} days ",
            data.tenants.len(),
            data.days
        ),
        theme.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if data.tenants.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("no businesses yet", theme.dim())),
            inner,
        );
        return;
    }
    // Each tenant gets a band; at 24 rows two fit, the rest follow the cursor.
    let band = 9u16;
    let fit = usize::from((inner.height / band).max(1));
    let start = app
        .selected
        .min(data.tenants.len().saturating_sub(1))
        .saturating_sub(fit - 1);
    let areas = Layout::vertical(vec![Constraint::Length(band); fit]).split(inner);
    for (slot, tenant) in areas.iter().zip(data.tenants.iter().skip(start)) {
        tenant_band(tenant, theme, frame, *slot);
    }
}

fn tenant_band(t: &TenantReport, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let [text, charts] =
        Layout::horizontal([Constraint::Length(38), Constraint::Fill(1)]).areas(area);
    let first = t
        .first_response_ms
        .median
        .map_or_else(|| "—".to_owned(), duration);
    let sent = t.replies.auto + t.replies.approved + t.replies.edited + t.replies.own;
    let failures_style = if t.failures > 0 {
        theme.error()
    } else {
        Style::default()
    };
    let lines = vec![
        Line::styled(t.name.clone(), theme.title()),
        Line::raw(format!("messages in     {}", t.volume.inbound_messages)),
        Line::raw(format!("replies sent    {sent}")),
        Line::raw(format!(
            "first response  {first} (median of {})",
            t.first_response_ms.samples
        )),
        Line::raw(format!("held drafts     {}", t.held_drafts)),
        Line::styled(format!("failures        {}", t.failures), failures_style),
        Line::raw(format!(
            "credits         {}",
            t.credits.map_or_else(|| "—".to_owned(), |c| c.to_string())
        )),
    ];
    frame.render_widget(Paragraph::new(lines), text);
    let [spark, bars] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(34)]).areas(charts);
    let [spark_title, spark_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(spark);
    frame.render_widget(
        Paragraph::new(Line::styled("messages per day", theme.dim())),
        spark_title,
    );
    frame.render_widget(
        // The newest days when the area is narrower than the series.
        Sparkline::default()
            .data(
                &t.volume.daily[t
                    .volume
                    .daily
                    .len()
                    .saturating_sub(usize::from(spark_area.width))..],
            )
            .style(theme.ok()),
        Rect {
            height: spark_area.height.saturating_sub(1),
            ..spark_area
        },
    );
    let bar = |label: &'static str, value: u64| Bar::default().label(Line::raw(label)).value(value);
    frame.render_widget(
        BarChart::default()
            .block(Block::default().title(Span::styled("replies by origin", theme.dim())))
            .bar_width(7)
            .bar_gap(1)
            .bar_style(theme.focus())
            .data(BarGroup::default().bars(&[
                bar("auto", t.replies.auto),
                bar("approvd", t.replies.approved),
                bar("edited", t.replies.edited),
                bar("own", t.replies.own),
            ])),
        Rect {
            height: bars.height.saturating_sub(1),
            ..bars
        },
    );
}

/// The owner's report: the business's band, then one row per agent.
fn owner(t: &TenantReport, days: u32, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        format!(" Report · {} · last {days} days ", t.name),
        theme.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [band, people] =
        Layout::vertical([Constraint::Length(9), Constraint::Fill(1)]).areas(inner);
    tenant_band(t, theme, frame, band);
    let median =
        |m: &crate::remote::FirstResponse| m.median.map_or_else(|| "—".to_owned(), duration);
    let mut lines = vec![Line::styled(
        format!(
            "{:<20} {:>7}  {:>14}  {:>8}  {:>14}",
            "agent", "replies", "first response", "resolved", "resolution"
        ),
        theme.dim(),
    )];
    lines.extend(t.agents.iter().map(|a: &AgentReport| {
        let name: String = a.name.chars().take(20).collect();
        Line::raw(format!(
            "{name:<20} {:>7}  {:>14}  {:>8}  {:>14}",
            a.replies,
            median(&a.first_response_ms),
            a.resolved,
            median(&a.resolution_ms)
        ))
    }));
    frame.render_widget(Paragraph::new(lines), people);
}
