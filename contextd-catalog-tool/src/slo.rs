//! Service-level objectives as vmalert/Prometheus rules: recording rules for each objective's
//! error ratio over the standard windows, and multi-window, multi-burn-rate alerts after the
//! Google SRE workbook ("Alerting on SLOs", table 5-8):
//!
//! | alert | severity | burn rate | long window | short window | budget spent when it fires |
//! |---|---|---:|---|---|---:|
//! | `<Namespace>SLOFastBurn` | page | 14.4× | 1 h | 5 m | 2 % |
//! | `<Namespace>SLOSlowBurn` | page | 6× | 6 h | 30 m | 5 % |
//! | `<Namespace>SLOBudgetBurn` | ticket | 1× | 3 d | 6 h | 10 % |
//!
//! The short window makes an alert stop soon after the burn stops; requiring both windows keeps a
//! short blip from paging at all.

use std::fmt::Write as _;

use contextd_metrics_catalog::{Catalog, Indicator, Objective, STATUS_KEY, STATUS_VALUES};

use crate::layout::{Item, Kind, Panel};

/// The windows the error ratio is recorded over.
pub const WINDOWS: [&str; 6] = ["5m", "30m", "1h", "6h", "1d", "3d"];

/// One alert tier: name, severity, burn factor, long and short window, and what it means.
pub struct Tier {
    /// The alert's name after the namespace (`SLOFastBurn` → `ContextdSLOFastBurn`).
    pub alert: &'static str,
    /// Its `severity` label: `page` or `ticket`.
    pub severity: &'static str,
    /// How many times faster than sustainable the budget burns.
    pub factor: f64,
    /// The long window, which must burn at `factor`.
    pub long: &'static str,
    /// The short window, which must still burn at `factor` (so the alert resets soon).
    pub short: &'static str,
    /// What firing means, for the summary.
    pub meaning: &'static str,
}

/// The three tiers of the SRE workbook.
pub const TIERS: [Tier; 3] = [
    Tier {
        alert: "SLOFastBurn",
        severity: "page",
        factor: 14.4,
        long: "1h",
        short: "5m",
        meaning: "2% of the month's error budget in one hour",
    },
    Tier {
        alert: "SLOSlowBurn",
        severity: "page",
        factor: 6.0,
        long: "6h",
        short: "30m",
        meaning: "5% of the month's error budget in six hours",
    },
    Tier {
        alert: "SLOBudgetBurn",
        severity: "ticket",
        factor: 1.0,
        long: "3d",
        short: "6h",
        meaning: "10% of the month's error budget in three days",
    },
];

impl Tier {
    /// The alert's full name in `catalog`'s rules: `ContextdSLOFastBurn`.
    pub fn alert_name(&self, catalog: &Catalog) -> String {
        format!("{}{}", crate::pascal_case(catalog.namespace), self.alert)
    }
}

/// The recorded error ratio of an objective over `window`.
pub fn error_ratio_series(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// The names of every series the recording rules of `objectives` write: the error ratio over
/// each window and each objective's period, and the objective series.
pub fn recorded_series(objectives: &[Objective]) -> Vec<String> {
    let mut windows: Vec<String> = WINDOWS.iter().map(|w| (*w).to_owned()).collect();
    for objective in objectives {
        let period = period(objective);
        if !windows.contains(&period) {
            windows.push(period);
        }
    }
    let mut names: Vec<String> = windows.iter().map(|w| error_ratio_series(w)).collect();
    names.push(OBJECTIVE_SERIES.to_owned());
    names
}

/// The series recording each objective's target.
pub const OBJECTIVE_SERIES: &str = "slo:objective:ratio";

/// The period window of an objective, e.g. `30d`.
pub fn period(objective: &Objective) -> String {
    format!("{}d", objective.period_days)
}

/// A number as rules and dashboards write it: `0.005`, `14.4`, `1`.
pub fn decimal(value: f64) -> String {
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The PromQL of an objective's error ratio over `window`, on the raw series.
pub fn error_ratio(objective: &Objective, window: &str) -> String {
    match objective.indicator {
        Indicator::Success { counter } => {
            let status = STATUS_KEY;
            let (success, error) = (STATUS_VALUES[0], STATUS_VALUES[1]);
            let all = format!(r#"sum(rate({}{{{status}=~"{success}|{error}"}}[{window}]))"#, counter.name);
            let failed = format!(r#"sum(rate({}{{{status}="{error}"}}[{window}]))"#, counter.name);
            // 0, not "no data", while nothing has failed yet.
            format!("({failed} or 0 * {all})\n  / {all}")
        }
        Indicator::Latency { histogram, threshold } => {
            let bucket = format!("{}_bucket", histogram.name);
            let fast = format!(r#"sum(rate({bucket}{{le="{}"}}[{window}]))"#, crate::number(threshold));
            let all = format!(r#"sum(rate({bucket}{{le="+Inf"}}[{window}]))"#);
            format!("1 - ({fast}\n  / {all})")
        }
    }
}

/// The labels every rule of an objective carries.
fn rule_labels(out: &mut String, objective: &Objective, indent: &str) {
    let _ = writeln!(out, "{indent}labels:");
    let _ = writeln!(out, "{indent}  slo: {}", objective.name);
    let _ = writeln!(out, "{indent}  component: {}", objective.component);
}

fn block(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

/// The runbook anchor of an alert.
pub fn runbook_url(alert: &str) -> String {
    format!("docs/runbook.md#{}", alert.to_lowercase())
}

/// The SLO rules of `catalog` (contextd's: `monitoring/alerts/slo.yml`); `source` is the catalog
/// file as given to the tool, quoted in the header.
///
/// # Errors
/// The first objective that [`Objective::validate`] refuses, with its message.
///
/// ```
/// let rules = contextd_catalog_tool::slo_rules(&contextd_metrics::contextd::CATALOG, "contextd.yaml").unwrap();
/// assert!(rules.contains("record: slo:sli_error:ratio_rate1h"));
/// assert!(rules.contains("alert: ContextdSLOFastBurn"));
/// ```
pub fn slo_rules(catalog: &Catalog, source: &str) -> Result<String, String> {
    let objectives = catalog.objectives;
    for objective in objectives {
        objective.validate()?;
    }
    let namespace = catalog.namespace;
    let mut out = format!(
        "# Service-level objectives: recording rules for each objective's error ratio and the\n\
         # multi-window, multi-burn-rate alerts of the SRE workbook (docs/slos.md).\n\
         # Generated from the objectives of `{source}` by the catalog tool (`slo-rules`); do not edit.\n\
         groups:\n  - name: {namespace}-slo-sli\n    rules:\n",
    );
    for objective in objectives {
        for window in WINDOWS.iter().copied().chain([period(objective).as_str()]) {
            let _ = writeln!(out, "      - record: {}", error_ratio_series(window));
            out.push_str("        expr: |\n");
            block(&mut out, "          ", &error_ratio(objective, window));
            rule_labels(&mut out, objective, "        ");
        }
        let _ = writeln!(out, "      - record: {OBJECTIVE_SERIES}");
        let _ = writeln!(out, "        expr: vector({})", decimal(objective.target));
        rule_labels(&mut out, objective, "        ");
    }
    let _ = write!(out, "\n  - name: {namespace}-slo-alerts\n    rules:\n");
    for tier in &TIERS {
        for objective in objectives {
            let threshold = decimal(tier.factor * objective.error_budget());
            let series = |window| format!(r#"{}{{slo="{}"}}"#, error_ratio_series(window), objective.name);
            let _ = writeln!(out, "      - alert: {}", tier.alert_name(catalog));
            out.push_str("        expr: |\n");
            let _ = writeln!(out, "          {} > {threshold}", series(tier.long));
            let _ = writeln!(out, "            and {} > {threshold}", series(tier.short));
            // The objective as static labels too, so the rules of one tier differ by more than
            // their expressions (promtool's lint: otherwise "duplicate rules").
            rule_labels(&mut out, objective, "        ");
            let _ = writeln!(out, "          severity: {}", tier.severity);
            out.push_str("        annotations:\n");
            let _ = writeln!(
                out,
                "          summary: \"SLO {{{{ $labels.slo }}}} burns its error budget {}x too fast\"",
                decimal(tier.factor)
            );
            let _ = writeln!(
                out,
                "          description: \"The error ratio of {{{{ $labels.slo }}}} over {} and over {} is above {} times its \
                 error budget: at this pace, {}.\"",
                tier.long,
                tier.short,
                decimal(tier.factor),
                tier.meaning
            );
            let _ = writeln!(out, "          runbook_url: \"{}\"", runbook_url(&tier.alert_name(catalog)));
        }
    }
    Ok(out)
}

/// The SLO dashboard's panels: a row per objective with its target, the SLI over the last hour,
/// the error budget left over the period and the burn rate over every window.
pub(crate) fn dashboard_items(catalog: &Catalog, objectives: &[Objective]) -> Vec<Item> {
    let mut items = Vec::new();
    for objective in objectives {
        let slo = format!(r#"{{slo="{}"}}"#, objective.name);
        let target = format!("{OBJECTIVE_SERIES}{slo}");
        let period = period(objective);
        let budget = decimal(objective.error_budget());
        items.push(Item::Row(format!("{}: {}", objective.name, objective.description)));
        items.push(Item::Panel(
            Panel::new(
                Kind::Stat,
                "Objective",
                format!(
                    "The share of good calls promised over {period} (error budget: {budget} of all calls)."
                ),
                "percentunit",
            )
            .query(target.clone(), objective.name)
            .size(4, 6),
        ));
        items.push(Item::Panel(
            Panel::new(
                Kind::Stat,
                "SLI, last hour",
                "The share of good calls over the last hour; red below the objective.",
                "percentunit",
            )
            .query(format!("1 - {}{slo}", error_ratio_series("1h")), objective.name)
            .base("red")
            .threshold(objective.target, "green")
            .size(4, 6),
        ));
        items.push(Item::Panel(
            Panel::new(
                Kind::Gauge,
                format!("Error budget left ({period})"),
                format!(
                    "How much of the {period} error budget is left: 100% is untouched, 0% spent, below 0 overspent. \
                     The ticket alert fires at a pace that would spend it all within the period."
                ),
                "percentunit",
            )
            .query(format!("1 - {}{slo} / (1 - {target})", error_ratio_series(&period)), objective.name)
            .base("red")
            .threshold(0.0, "orange")
            .threshold(0.25, "green")
            .range(-1.0, 1.0)
            .size(4, 6),
        ));
        let mut burn = Panel::new(
            Kind::TimeSeries,
            "Burn rate by window",
            "How many times faster than sustainable the error budget burns, per window. The alerts need two \
             windows over a line: 14.4 (1 h and 5 m), 6 (6 h and 30 m) to page, 1 (3 d and 6 h) for a ticket.",
            "short",
        )
        .threshold(1.0, "yellow")
        .threshold(6.0, "orange")
        .threshold(14.4, "red")
        .size(12, 6);
        for window in WINDOWS {
            burn = burn.query(format!("{}{slo} / (1 - {target})", error_ratio_series(window)), window);
        }
        for tier in &TIERS {
            let alert = tier.alert_name(catalog);
            burn = burn.link(format!("Runbook: {alert}"), runbook_url(&alert));
        }
        items.push(Item::Panel(burn));
    }
    items
}
