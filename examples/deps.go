//go:build tools

package examples

import (
	_ "github.com/go-chi/chi/v5"
	_ "github.com/jwtauth-go/jwtauth"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)
