contextd_metrics::catalog!("catalogs/operation_label_missing.yaml");

fn main() {}
