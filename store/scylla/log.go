package scylla

import (
	"fmt"
	"log/slog"
	"strings"
)

// driverLog hands the driver's messages (a host went down, a reconnect
// failed) to slog at warning level: the driver only logs what an operator
// may need to look at.
type driverLog struct{ l *slog.Logger }

func (d driverLog) Print(v ...any) { d.log(fmt.Sprint(v...)) }

func (d driverLog) Printf(format string, v ...any) { d.log(fmt.Sprintf(format, v...)) }

func (d driverLog) Println(v ...any) { d.log(fmt.Sprintln(v...)) }

func (d driverLog) log(msg string) {
	d.l.Warn("cql driver", "detail", strings.TrimSpace(msg))
}
