//! Prints the Backend CRD; `crds/backend.yaml` is this output, checked by a drift test.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    print!("{}", agw_crds::backend_crd_yaml()?);
    Ok(())
}
