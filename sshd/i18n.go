package sshd

import (
	"fmt"
	"strings"
	"time"
)

// Languages the console speaks.
const (
	LangJA = "ja"
	LangEN = "en"
)

func parseLang(s, def string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return def, nil
	case "ja", "jp", "japanese", "日本語":
		return LangJA, nil
	case "en", "english":
		return LangEN, nil
	}
	return "", fmt.Errorf("unknown language %q (ja, en)", s)
}

// defaultLocation is Japan time; the fixed zone keeps working on systems
// without tzdata.
func defaultLocation() *time.Location {
	if loc, err := time.LoadLocation("Asia/Tokyo"); err == nil {
		return loc
	}
	return time.FixedZone("JST", 9*60*60)
}

type msgID int

const (
	msgNeedTerminal msgID = iota
	msgNoConsole
	msgUnknownCommand
	msgUsage
	msgCommands
	msgForbidden
	msgError
	msgLedgerIntact
	msgLedgerBroken
	msgNoRecordings
	msgCovered
	msgLoginPending
	msgLoginUnrecorded
	msgUnavailable
	msgNoEntries
	msgNoCameras
)

var messages = map[msgID][2]string{ // [en, ja]
	msgNeedTerminal: {
		"mimamori: the console needs a terminal (ssh -t), or give a command; try: help",
		"mimamori: コンソールには端末が必要です (ssh -t)。コマンドを指定することもできます: help",
	},
	msgNoConsole:      {"mimamori: the interactive console is not available", "mimamori: 対話コンソールは利用できません"},
	msgUnknownCommand: {"unknown command %q", "不明なコマンド %q"},
	msgUsage:          {"usage: %s", "使い方: %s"},
	msgCommands:       {"commands:", "コマンド:"},
	msgForbidden:      {"forbidden: %s may not %s", "forbidden: %s may not %s (権限がありません)"},
	msgError:          {"error: %v", "エラー: %v"},
	msgLedgerIntact:   {"ledger intact: %d entries verified", "台帳は正常です (intact): %d 件を検証しました"},
	msgLedgerBroken:   {"ledger BROKEN at seq %d after %d good entries: %s", "台帳の連鎖が壊れています (BROKEN): seq %d (正常 %d 件の後): %s"},
	msgNoRecordings:   {"no recordings in this range", "この範囲に録画はありません"},
	msgCovered:        {"recorded %s of %s (%d spans)", "録画 %s / %s (%d 区間)"},
	msgLoginPending: {"mimamori: the disk is not responding; this login will be entered in the ledger once it does",
		"mimamori: ディスクが応答しません。このログインはディスクが応答し次第、台帳に記録されます"},
	msgLoginUnrecorded: {"mimamori: the ledger cannot be written (%v); this login is not in the ledger, only in the appliance's log",
		"mimamori: 台帳に書き込めません (%v)。このログインは台帳に記録されず、装置のログにのみ残ります"},
	msgUnavailable: {"not available: %v", "利用できません: %v"},
	msgNoEntries:   {"no entries", "記録はありません"},
	msgNoCameras:   {"no cameras", "カメラはありません"},
}

func msg(lang string, id msgID) string {
	m := messages[id]
	if lang == LangJA {
		return m[1]
	}
	return m[0]
}

// pick returns en or ja by lang, for one-off strings such as headers.
func pick(lang, en, ja string) string {
	if lang == LangJA {
		return ja
	}
	return en
}
