package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A SQLite file does not shrink when rows are deleted: their pages go to
// a free list, to be reused. With auto_vacuum=INCREMENTAL, the retention
// job gives them back: PRAGMA incremental_vacuum moves the free pages to
// the end of the file and truncates it (in WAL mode, at the checkpoint,
// which it runs). A file made with another auto_vacuum mode (by a bss-api
// before this one) is converted once, at open, by VACUUM.

// incrementalVacuum makes the database one that reclaim can shrink. A new
// database is one already (OpenSQLite asks for it before its first page);
// an older one is rewritten by VACUUM, atomically (a crash during it
// leaves the file as it was, and the next start tries again). VACUUM
// needs free space of about the file's size, in the data directory (not
// /tmp, often read-only in a container); when it fails the store works
// on, and the file shrinks only once a later start converts it.
func (d *sqliteDialect) incrementalVacuum(ctx context.Context, log *slog.Logger) error {
	if mode, err := d.autoVacuum(ctx); err != nil || mode == autoVacuumIncremental {
		return err
	}
	// On an existing database the mode takes effect with the VACUUM.
	if _, err := d.write.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return fmt.Errorf("set auto_vacuum: %w", err)
	}
	size := fileSize(d.path)
	log.Info("converting the database to incremental auto-vacuum, once: VACUUM rewrites it", "path", d.path, "bytes", size)
	start := time.Now()
	dir := strings.ReplaceAll(filepath.Dir(d.path), "'", "''")
	// Where VACUUM writes its copy; a setting of the whole process, so it
	// is put back at once.
	if _, err := d.write.ExecContext(ctx, "PRAGMA temp_store_directory = '"+dir+"'"); err != nil {
		return fmt.Errorf("set the temporary directory: %w", err)
	}
	_, err := d.write.ExecContext(ctx, `VACUUM`)
	if _, rerr := d.write.ExecContext(ctx, `PRAGMA temp_store_directory = ''`); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		log.Warn("the database was not converted to incremental auto-vacuum: it will not shrink after retention; the next start tries again",
			"path", d.path, "err", err)
		return nil
	}
	log.Info("converted the database to incremental auto-vacuum", "path", d.path, "bytes_before", size, "bytes_after", fileSize(d.path),
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2

func (d *sqliteDialect) autoVacuum(ctx context.Context) (int, error) {
	var mode int
	if err := d.write.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return 0, fmt.Errorf("read auto_vacuum: %w", err)
	}
	return mode, nil
}

// reclaim gives the file's free pages back to the file system and
// checkpoints, so that the file itself shrinks. Both write the database
// file, so each comes after a look at it, as commits do: a checkpoint
// into a truncated file would give it a sound header again, and hide the
// truncation.
func (d *sqliteDialect) reclaim(ctx context.Context, log *slog.Logger) error {
	conn, err := d.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var free int64
	if err := conn.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
		return fmt.Errorf("count free pages: %w", err)
	}
	if free == 0 {
		return nil
	}
	start, before := time.Now(), fileSize(d.path)
	log.Debug("reclaiming free pages", "pages", free, "bytes", before)
	if err := d.verify(true); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
		return fmt.Errorf("incremental vacuum: %w", err)
	}
	if err := d.verify(true); err != nil {
		return err
	}
	var busy, frames, copied int64
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	log.Debug("reclaimed free pages", "pages", free, "bytes_before", before, "bytes_after", fileSize(d.path),
		"took", time.Since(start).Round(time.Microsecond))
	return nil
}

// fileSize is the size of the file at path, or -1.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}
