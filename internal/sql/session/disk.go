package session

import (
	"context"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Disks (issue 13). CREATE DISK and DROP DISK are admin statements. CREATE
// DISK checks, when it runs, that the store works from this node
// (Backend.ProbeDisk: reach it, write, read back, delete) before it
// proposes the disk, so a disk that cannot work is never recorded. SHOW
// DISKS is cairn_cluster.disks, which never shows the secret key.

// prepareDiskStmt prepares CREATE DISK and DROP DISK; ok is false for any
// other statement.
func (s *Session) prepareDiskStmt(stmt parser.Statement) (*prepared, bool, error) {
	switch st := stmt.(type) {
	case *parser.CreateDisk:
		p, err := s.prepareCreateDisk(st)
		return p, true, err
	case *parser.DropDisk:
		p, err := s.prepareDropDisk(st)
		return p, true, err
	}
	return nil, false, nil
}

// diskOf is the catalog disk a CREATE DISK describes.
func diskOf(cd *parser.CreateDisk, owner string) *catalog.Disk {
	d := &catalog.Disk{Name: cd.Name, Path: cd.Path, Endpoint: cd.Endpoint, Bucket: cd.Bucket, Region: cd.Region,
		Prefix: cd.Prefix, AccessKeyID: cd.AccessKeyID, SecretAccessKey: cd.SecretAccessKey, Owner: owner}
	switch cd.Type {
	case parser.DiskS3:
		d.Type = catalog.DiskS3
	case parser.DiskFile:
		d.Type = catalog.DiskFile
	}
	if cd.TLS != nil {
		d.TLS = *cd.TLS
	}
	return d
}

func (s *Session) prepareCreateDisk(cd *parser.CreateDisk) (*prepared, error) {
	// Refused before anything is looked at: a non-admin learns nothing
	// (which disks exist, whether an endpoint answers).
	if err := s.noteAdmin("CREATE DISK"); err != nil {
		return nil, err
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		if s.b.Catalog().Disks[cd.Name] != nil {
			if !cd.IfNotExists {
				return "", pgerr.DiskExists.New(cd.Name)
			}
			// Skipped as the catalog would skip it, without probing a
			// store that is not going to be recorded.
			w.Notice("disk \"" + cd.Name + "\" already exists, skipping")
			return "CREATE DISK", nil
		}
		d := diskOf(cd, s.currentUser())
		if err := s.b.ProbeDisk(ctx, d); err != nil {
			return "", err
		}
		d.CreatedAt = time.Now().UnixMicro()
		res, err := s.b.Propose(ctx, &catalog.CreateDisk{Disk: d, IfNotExists: cd.IfNotExists})
		if err != nil {
			return "", pgerr.From(err).WithPos(cd.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		return "CREATE DISK", nil
	}}, nil
}

func (s *Session) prepareDropDisk(dd *parser.DropDisk) (*prepared, error) {
	if err := s.noteAdmin("DROP DISK"); err != nil {
		return nil, err
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		res, err := s.b.Propose(ctx, &catalog.DropDisks{Names: dd.Names, IfExists: dd.IfExists})
		if err != nil {
			return "", pgerr.From(err).WithPos(dd.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		return "DROP DISK", nil
	}}, nil
}
