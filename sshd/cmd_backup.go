package sshd

import (
	"fmt"

	"mimamori/core"
)

const backupUsage = "   (ssh … backup > mimamori.db)"

// backup: the manager's online snapshot of mimamori.db on stdout. Core
// checks the role, ledgers the backup and keeps its read transaction
// short; this command only refuses to pour a database onto a terminal.
func runBackup(env *Env, args []string) int {
	f := NewFlags()
	if pos, err := f.Parse(args); err != nil || len(pos) > 0 {
		return env.UsageError("backup", errText(err, pos))
	}
	if core.Allowed(env.Actor.Role, core.ActionBackup) && env.Session != nil {
		if _, _, tty := env.Session.Pty(); tty {
			fmt.Fprintf(env.Stderr, msg(env.Lang, msgError)+"\n", env.T(
				"the backup is binary: redirect it to a file, without -t: ssh … backup > mimamori.db",
				"バックアップはバイナリです。-t を付けずにファイルへ保存してください: ssh … backup > mimamori.db"))
			return ExitUsage
		}
	}
	rep, err := env.Core.Backup(env.Ctx, env.Actor, env.Stdout)
	if err != nil {
		return fail(env, core.ActionBackup, err)
	}
	fmt.Fprintf(env.Stderr, env.T("backup: %d bytes, sha256 %s, ledger up to seq %d\n",
		"バックアップ: %d バイト, sha256 %s, 台帳 seq %d まで\n"), rep.Bytes, rep.SHA256, rep.LedgerSeq)
	return ExitOK
}
