package replica

import "fmt"

// Lagging reports the view of stream that is furthest behind, counting
// the view shards this node holds against the stream shards it holds
// (the numbers cairn_view_lag_events shows, but current): how many
// events, and a sentence for the hint of an ingest refused for memory
// (0, "" when none is behind). The node's memory accountant calls it on
// every admission, so it reads only in-memory offsets.
func (m *Manager) Lagging(stream string) (int64, string) {
	cat := m.meta.Catalog()
	var name string
	var most int64
	for _, v := range cat.ViewsOn(stream) {
		var src []uint64
		for _, s := range cat.ViewStreams(v) {
			if s == nil {
				src = nil
				break
			}
			src = append(src, s.Groups...)
		}
		for _, vg := range v.Groups {
			g := m.Get(vg)
			if g == nil || g.View == nil {
				continue
			}
			offs, _ := g.View.DurableOffsets()
			var lag int64
			for i, sg := range src {
				s := m.Get(sg)
				if s == nil || s.Stream == nil || i >= len(offs) {
					continue
				}
				if end, _ := s.Stream.End(); end > offs[i] {
					lag += int64(end - offs[i])
				}
			}
			if lag > most {
				name, most = v.Name, lag
			}
		}
	}
	if name == "" {
		return 0, ""
	}
	return most, fmt.Sprintf("View %q is %d events behind stream %q (cairn_view_lag_events).", name, most, stream)
}
