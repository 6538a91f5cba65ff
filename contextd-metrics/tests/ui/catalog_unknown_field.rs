contextd_metrics::catalog!("catalogs/unknown_field.yaml");

fn main() {}
