package main

import (
	"fmt"
	"runtime/debug"
)

func cmdVersion() *command {
	return &command{
		name:     "version",
		synopsis: "",
		summary:  "print the version of jwtauth and of Go it was built with",
		about: `Prints the module version (or "(devel)" when built from a checkout, then the commit and
whether the tree was modified) and the Go version, from the build information in the binary.`,
		example: `jwtauth version`,
		run:     runVersion,
	}
}

func runVersion(e *env, args []string) int {
	c := cmdVersion()
	fs := newFlags(c)
	positional, code, ok := e.parse(c, fs, args)
	if !ok {
		return code
	}
	if len(positional) > 0 {
		return e.usageError(c, fs, "unexpected argument %q", positional[0])
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(e.stdout, "jwtauth (no build information)")
		return exitOK
	}
	fmt.Fprintln(e.stdout, versionLine(info))
	return exitOK
}

// versionLine renders build information: "jwtauth v1.2.3 go1.26.0", or for a checkout
// "jwtauth (devel) 0123abcd4567 (modified) go1.26.0".
func versionLine(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	line := "jwtauth " + v
	if rev != "" && v == "(devel)" {
		line += " " + rev[:min(len(rev), 12)] + modified
	}
	return line + " " + info.GoVersion
}
