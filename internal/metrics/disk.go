package metrics

// DiskSpace is the file system holding a directory: its size, the bytes
// still available to this process, and the bytes used (size minus free,
// by every user of the file system).
type DiskSpace struct {
	Capacity, Available, Used uint64
}

// RegisterDisk registers cairn_disk_capacity_bytes,
// cairn_disk_available_bytes and cairn_disk_used_bytes of the file
// system holding dir, read at each scrape (one statfs each).
func (m *Metrics) RegisterDisk(dir string) {
	if m == nil {
		return
	}
	read := func(pick func(DiskSpace) uint64) func() float64 {
		return func() float64 {
			ds, err := StatDisk(dir)
			if err != nil {
				return 0
			}
			return float64(pick(ds))
		}
	}
	m.Registry.MustRegister(
		defDiskCapacity.gaugeFunc(read(func(d DiskSpace) uint64 { return d.Capacity })),
		defDiskAvailable.gaugeFunc(read(func(d DiskSpace) uint64 { return d.Available })),
		defDiskUsed.gaugeFunc(read(func(d DiskSpace) uint64 { return d.Used })),
	)
}
