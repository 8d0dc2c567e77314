package core

import (
	"errors"
	"testing"
)

func TestCheckSecret(t *testing.T) {
	for _, bad := range []string{
		"aaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaa", "abababababababab", "short",
		"password1234", "Password123!", "!!qwerty2026!!", "passwordpassword",
		"abcdefghijklmn", "123456789012", "mimamori2026!", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4",
	} {
		if err := CheckSecret("passphrase", []byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("accepted %q", bad)
		}
	}
	for _, good := range []string{
		"correct horse battery staple", "tsukimi-dango-42-kasa", "四街道の防犯カメラ管理用の合言葉", "Xq7#pL9!vR2@",
	} {
		if err := CheckSecret("passphrase", []byte(good)); err != nil {
			t.Errorf("refused %q: %v", good, err)
		}
	}
}
