//go:build !(linux || darwin || freebsd)

package metrics

import "errors"

// StatDisk is not implemented on this platform: the disk gauges read 0.
func StatDisk(string) (DiskSpace, error) {
	return DiskSpace{}, errors.New("disk space: not supported on this platform")
}
