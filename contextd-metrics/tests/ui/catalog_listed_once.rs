// One catalog with a mistake, named by two macros: its mistakes are listed once.
mod first {
    contextd_metrics::catalog!("catalogs/histogram_without_buckets.yaml");
}

mod second {
    contextd_metrics::catalog!("catalogs/../catalogs/histogram_without_buckets.yaml");
}

fn main() {}
