package rpc

import "encoding/json"

// TableRows reads rows of a table shard at a replica (writes go through
// Append, whose command is then a tablesm command).
const TableRows = "table_rows"

// TableRowsRequest asks a replica of table shard Group for its rows: the
// ones with the encoded primary keys Keys, or all when Keys is nil.
type TableRowsRequest struct {
	Group        uint64   `json:"group"`
	Keys         [][]byte `json:"keys,omitempty"`
	Linearizable bool     `json:"linearizable,omitempty"`
}

// AppendTo encodes the request (JSON).
func (r TableRowsRequest) AppendTo(dst []byte) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // plain data
	}
	return append(dst, b...)
}

// TableRowsReply holds stored rows (tablesm's row encoding).
type TableRowsReply struct {
	Rows [][]byte `json:"rows"`
}
