contextd_metrics::catalog!("catalogs/closed_label_without_values.yaml");

fn main() {}
