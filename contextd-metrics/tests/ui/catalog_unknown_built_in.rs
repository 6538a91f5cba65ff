contextd_metrics::catalog!(contextdd);

fn main() {}
