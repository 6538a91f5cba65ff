//! `contextd_tests_total{type}` from JUnit XML, as cargo-nextest and most CI tools write it.
//!
//! Every `<testcase>` counts once (skipped ones too: they are tests). Its type comes from the
//! first rule whose pattern occurs in `"<testsuite name>/<testcase classname>"`; see
//! [`TestTypeRules::cargo_nextest`] for the default mapping.

use std::path::Path;

use super::xml::TagKind;
use super::{ReportError, read, xml};

/// Ordered substring rules mapping a test to `unit`, `integration` or `e2e`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestTypeRules {
    rules: Vec<(String, &'static str)>,
    default: &'static str,
}

/// The `type` label values, in catalog order: unit, integration, e2e.
const TYPES: &[&str] = contextd_metrics::contextd::labels::TEST_TYPE.values.listed();
const UNIT: usize = 0;
const INTEGRATION: usize = 1;
const E2E: usize = 2;

impl TestTypeRules {
    /// The mapping for cargo-nextest reports, where a suite is a test binary:
    /// - a name containing `e2e` → `e2e` (e.g. `tests/e2e_*.rs` or an `e2e` crate);
    /// - `<crate>::bin/<name>` (a binary's own tests) → `unit`;
    /// - `<crate>::<test target>` (a `tests/*.rs` binary) → `integration`;
    /// - `<crate>` alone (the library's `#[cfg(test)]` tests) → `unit`.
    pub fn cargo_nextest() -> Self {
        Self {
            rules: vec![
                (TYPES[E2E].into(), TYPES[E2E]),
                ("::bin/".into(), TYPES[UNIT]),
                ("::".into(), TYPES[INTEGRATION]),
            ],
            default: TYPES[UNIT],
        }
    }

    /// No rules yet; everything is `default` until [`rule`](Self::rule) adds some.
    ///
    /// # Errors
    /// When `default` is not `unit`, `integration` or `e2e`.
    pub fn new(default: &str) -> Result<Self, String> {
        Ok(Self { rules: Vec::new(), default: test_type(default)? })
    }

    /// Adds a rule after the existing ones: tests whose `suite/classname` contains `pattern`
    /// are of type `test_type`.
    ///
    /// # Errors
    /// When `test_type` is not `unit`, `integration` or `e2e`.
    pub fn rule(mut self, pattern: impl Into<String>, test_type: &str) -> Result<Self, String> {
        self.rules.push((pattern.into(), self::test_type(test_type)?));
        Ok(self)
    }

    fn classify(&self, suite: &str, classname: &str) -> &'static str {
        let haystack = format!("{suite}/{classname}");
        self.rules
            .iter()
            .find(|(pattern, _)| haystack.contains(pattern.as_str()))
            .map_or(self.default, |(_, t)| t)
    }
}

fn test_type(name: &str) -> Result<&'static str, String> {
    TYPES
        .iter()
        .copied()
        .find(|t| *t == name)
        .ok_or_else(|| format!("unknown test type `{name}`; valid: {}", TYPES.join(", ")))
}

/// Test counts by type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestsByType {
    /// `type="unit"`.
    pub unit: i64,
    /// `type="integration"`.
    pub integration: i64,
    /// `type="e2e"`.
    pub e2e: i64,
}

impl TestsByType {
    /// `(type, count)` pairs in catalog order.
    pub fn by_label(&self) -> [(&'static str, i64); 3] {
        [(TYPES[UNIT], self.unit), (TYPES[INTEGRATION], self.integration), (TYPES[E2E], self.e2e)]
    }

    fn add(&mut self, test_type: &str) {
        match TYPES.iter().position(|t| *t == test_type) {
            Some(INTEGRATION) => self.integration += 1,
            Some(E2E) => self.e2e += 1,
            _ => self.unit += 1,
        }
    }
}

/// Reads and counts the JUnit report at `path`.
///
/// # Errors
/// An unreadable file, malformed XML (e.g. truncated), or a document without `<testcase>`
/// and `<testsuite>` elements.
pub fn read_junit(path: &Path, rules: &TestTypeRules) -> Result<TestsByType, ReportError> {
    parse_junit(path, &read(path)?, rules)
}

/// Counts the test cases of a JUnit document; `path` names it in errors.
///
/// # Errors
/// As for [`read_junit`].
pub fn parse_junit(path: &Path, text: &str, rules: &TestTypeRules) -> Result<TestsByType, ReportError> {
    let mut counts = TestsByType::default();
    let mut suites: Vec<String> = Vec::new();
    let mut is_junit = false;
    xml::visit_tags(text, |tag| {
        match (tag.name, tag.kind) {
            ("testsuites", _) => is_junit = true,
            ("testsuite", TagKind::Start) => {
                is_junit = true;
                suites.push(tag.attribute("name").unwrap_or_default().into_owned());
            }
            ("testsuite", TagKind::End) => {
                suites.pop();
            }
            ("testsuite", TagKind::Empty) => is_junit = true,
            ("testcase", TagKind::Start | TagKind::Empty) => {
                let suite = suites.last().map_or("", String::as_str);
                counts.add(rules.classify(suite, &tag.attribute("classname").unwrap_or_default()));
            }
            _ => {}
        }
        Ok(())
    })
    .map_err(|e| ReportError::new(path, Some(e.line), e.message))?;
    if !is_junit {
        return Err(ReportError::new(path, Some(1), "no `<testsuite>` element: not a JUnit report"));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nextest_suites_map_to_types() {
        let text = r#"<testsuites>
  <testsuite name="contextd-metrics"><testcase name="a" classname="contextd-metrics"/></testsuite>
  <testsuite name="contextd-metrics::catalog_rules"><testcase name="b" classname="contextd-metrics::catalog_rules"/><testcase name="c"><skipped/></testcase></testsuite>
  <testsuite name="contextd-metrics::bin/contextd-catalog"><testcase name="d"/></testsuite>
  <testsuite name="contextd-examples::e2e_demo"><testcase name="e"/></testsuite>
</testsuites>"#;
        let counts = parse_junit(Path::new("j.xml"), text, &TestTypeRules::cargo_nextest()).unwrap();
        assert_eq!(counts, TestsByType { unit: 2, integration: 2, e2e: 1 });
    }

    #[test]
    fn custom_rules_and_invalid_types() {
        let rules = TestTypeRules::new("integration").unwrap().rule("Unit", "unit").unwrap();
        let text = r#"<testsuite name="x"><testcase classname="com.UnitTest"/><testcase classname="com.ApiTest"/></testsuite>"#;
        assert_eq!(
            parse_junit(Path::new("j"), text, &rules).unwrap(),
            TestsByType { unit: 1, integration: 1, e2e: 0 }
        );
        assert!(TestTypeRules::new("smoke").unwrap_err().contains("valid: unit, integration, e2e"));
    }

    #[test]
    fn truncated_or_foreign_xml_is_an_error() {
        let rules = TestTypeRules::cargo_nextest();
        let truncated =
            parse_junit(Path::new("j.xml"), "<testsuites>\n<testsuite name=\"a\">\n<testcase/>", &rules);
        assert!(truncated.unwrap_err().to_string().starts_with("j.xml:3: the document ends inside"));
        let foreign = parse_junit(Path::new("j.xml"), "<html></html>", &rules).unwrap_err();
        assert!(foreign.message.contains("not a JUnit report"));
    }
}
