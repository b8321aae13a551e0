// Package lint holds tests that keep the shape of the code: which package
// may import which (the arrows of the house in DESIGN.md), and that the
// pure decision packages read no clock.
package lint
