//! Service-level objectives, checked against their instruments.

use super::super::tree::Node;
use super::*;

impl Reader {
    pub(super) fn objectives(
        &mut self,
        node: &Node,
        instruments: &'static [InstrumentSpec],
    ) -> Vec<Objective> {
        const FIELDS: &[&str] =
            &["name", "success", "latency", "threshold", "target", "period_days", "brief"];
        let mut objectives: Vec<Objective> = Vec::new();
        for item in self.list(node, "`objectives`") {
            let Some(fields) = self.fields(item, "an objective", FIELDS) else { continue };
            let Some(name) = self.required_string(&fields, "name", "an objective") else { continue };
            let what = format!("objective `{name}`");
            if objectives.iter().any(|o| o.name == name) {
                self.error(item.at, format!("{what} is defined twice"));
                continue;
            }
            let number = |reader: &mut Self, key: &str| -> Option<f64> {
                let node = reader.required(&fields, key, &what)?;
                let text = reader.string(node, &format!("`{key}` of {what}"))?;
                let value = text.parse::<f64>().ok().filter(|v| v.is_finite());
                if value.is_none() {
                    reader.error(node.at, format!("`{key}` of {what}: `{text}` is not a number"));
                }
                value
            };
            let indicator = match (fields.get("success"), fields.get("latency")) {
                (Some(counter), None) => self
                    .metric_ref(
                        counter,
                        instruments,
                        InstrumentKind::Counter,
                        &format!("`success` of {what}"),
                    )
                    .map(|counter| Indicator::Success { counter }),
                (None, Some(histogram)) => {
                    let histogram = self.metric_ref(
                        histogram,
                        instruments,
                        InstrumentKind::Histogram,
                        &format!("`latency` of {what}"),
                    );
                    let threshold = number(self, "threshold");
                    histogram
                        .zip(threshold)
                        .map(|(histogram, threshold)| Indicator::Latency { histogram, threshold })
                }
                _ => {
                    self.error(item.at, format!("{what} needs exactly one of `success: <counter>` or `latency: <histogram>` with a `threshold`"));
                    None
                }
            };
            let target = number(self, "target");
            let period = number(self, "period_days");
            let brief = self.required_string(&fields, "brief", &what);
            let (Some(indicator), Some(target), Some(period), Some(brief)) =
                (indicator, target, period, brief)
            else {
                continue;
            };
            if period.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&period) {
                self.error(item.at, format!("{what}: `period_days` must be a whole number of days"));
                continue;
            }
            let objective = Objective {
                name: leak_str(name),
                component: indicator.instrument().component,
                indicator,
                target,
                period_days: period as u32,
                description: leak_str(brief),
            };
            if let Err(message) = objective.validate() {
                self.error(item.at, message);
            }
            if let Indicator::Success { counter } = indicator
                && counter.label(STATUS_KEY).is_some_and(|l| l.values != LabelValues::Closed(&STATUS_VALUES))
            {
                self.error(
                    item.at,
                    format!(
                        "{what}: the `status` label of `{}` must list `success`, `error`, `cancelled`",
                        counter.name
                    ),
                );
            }
            objectives.push(objective);
        }
        objectives
    }
}
