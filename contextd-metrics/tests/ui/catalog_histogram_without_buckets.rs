contextd_metrics::catalog!("catalogs/histogram_without_buckets.yaml");

fn main() {}
