package main

// bun13 top: a live terminal view of a running registry (impl/top).
//
//	bun13 top [--url URL] [--token T] [--terminal 'MODE;ROWSxCOLS'] [--no-color]
//
// --url defaults to BUN13_REGISTRY_URL, else http://127.0.0.1:4873 (the
// address `registry serve` listens on by default). --token defaults to
// BUN13_TOKEN; prefer the variable, as other users can read arguments in
// the process list. The terminal mode and size are the server's config
// (its terminalMode, rows and cols), unless BUN_CONFIG_TERMINAL or
// --terminal, which beats it, says otherwise. NO_COLOR turns colours off.
// In raw mode q quits and r refreshes; in cooked mode type them and Enter;
// Ctrl-C and SIGTERM quit in every mode and leave the terminal as it was.

import (
	"github.com/bun13/bun13/impl/config"
	"github.com/bun13/bun13/impl/top"
)

func init() { commands["top"] = runTop }

// defaultTopURL is where `bun13 registry serve` listens by default.
const defaultTopURL = "http://" + defaultRegistryAddr

func runTop(e *env, args []string) error {
	fs := newFlags("top")
	url := fs.String("url", e.envDefault("BUN13_REGISTRY_URL", defaultTopURL), "registry URL")
	token := fs.String("token", e.envDefault("BUN13_TOKEN", ""), "bearer token (default BUN13_TOKEN)")
	terminal := fs.String("terminal", e.envDefault(config.EnvTerminal, ""), "terminal MODE;ROWSxCOLS (default: the server's config)")
	noColor := fs.Bool("no-color", e.envDefault("NO_COLOR", "") != "", "draw without colours")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("top [--url URL] [--token T] [--terminal MODE;ROWSxCOLS] [--no-color]")
	}
	if *terminal != "" {
		if _, _, _, err := config.ParseTerminal(*terminal); err != nil {
			return usagef("top: --terminal (or %s) %q: %v", config.EnvTerminal, *terminal, err)
		}
	}
	return top.Run(e.ctx, top.Options{
		URL:      *url,
		Token:    *token,
		Terminal: *terminal,
		Stdin:    e.stdin,
		Stdout:   e.stdout,
		NoColor:  *noColor,
	})
}
