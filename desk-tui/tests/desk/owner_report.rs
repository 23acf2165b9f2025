//! The owner's own report: the business's figures as the partner viewer sees them, and a
//! row per agent (replies, first-response and resolution medians). At 80×24 and 160×48.

use super::screens::report_data;
use super::*;
use desk_tui::app::{ProfileRole, Remote, Screen};
use desk_tui::remote::{AgentReport, FirstResponse, ReportData};

fn owner_data() -> ReportData {
    let mut data = report_data();
    let mut own = data.tenants.swap_remove(0);
    let median = |minutes: i64, samples: u64| FirstResponse {
        median: Some(minutes * 60_000),
        samples,
    };
    own.agents = vec![
        AgentReport {
            agent: "ag-ayu".into(),
            name: "Ayu".into(),
            replies: 61,
            first_response_ms: median(3, 40),
            resolved: 28,
            resolution_ms: median(95, 28),
        },
        AgentReport {
            agent: "drafter".into(),
            name: "automation".into(),
            replies: 80,
            first_response_ms: median(1, 52),
            resolved: 0,
            resolution_ms: FirstResponse::default(),
        },
    ];
    ReportData {
        brand: None,
        days: 14,
        tenants: vec![own],
    }
}

#[test]
fn the_owner_sees_their_business_and_its_people() {
    let (_dir, mut app) = showcase();
    app.profiles[0].role = ProfileRole::Owner;
    press(&mut app, "P");
    assert_eq!(app.screen, Screen::Report);
    app.update(Msg::Report {
        profile: 0,
        result: Ok(owner_data()),
    });
    assert!(matches!(app.report, Remote::Loaded(_)));
    let screen = draw(&app, 160, 48);
    assert!(
        screen.contains("Report · Sari Batik · last 14 days"),
        "{screen}"
    );
    assert!(screen.contains("Ayu"), "{screen}");
    insta::assert_snapshot!("owner_report_80x24", draw(&app, 80, 24));
    insta::assert_snapshot!("owner_report_160x48", screen);
}
