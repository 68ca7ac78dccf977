"""Developer and test tools that are not part of the product: a Kubernetes control plane built from
source (`dev_cluster`, `dev_pki`) for the operator tests and `k2 dev cluster`.

Installed with the project (pyproject's packages.find) so `k2 dev` and the tests import it; neither
`k2_operator` nor the jobs import it (tests/unit/test_dev_tools_boundary.py), so images can leave it out."""
