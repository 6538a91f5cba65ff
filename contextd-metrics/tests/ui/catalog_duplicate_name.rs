contextd_metrics::catalog!("catalogs/duplicate_name.yaml");

fn main() {}
