// Package deploy holds Cairn's deployment files (the Dockerfile at the
// repository root, compose.yaml, systemd units, Kubernetes manifests) and
// the tests that validate them without Docker or a cluster: every file is
// parsed (Kubernetes manifests strictly, with the API's own types) and
// checked against the cairn binary's real flags, ports and endpoints.
// docs/deploy.md says what is checked and what was never run here.
package deploy
