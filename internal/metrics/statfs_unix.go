//go:build linux || darwin || freebsd

package metrics

import "syscall"

// StatDisk returns the space of the file system holding dir.
func StatDisk(dir string) (DiskSpace, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return DiskSpace{}, err
	}
	bs := uint64(st.Bsize)
	return DiskSpace{Capacity: st.Blocks * bs, Available: st.Bavail * bs, Used: (st.Blocks - st.Bfree) * bs}, nil
}
