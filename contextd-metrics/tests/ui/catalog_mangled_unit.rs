contextd_metrics::catalog!("catalogs/mangled_unit.yaml");

fn main() {}
