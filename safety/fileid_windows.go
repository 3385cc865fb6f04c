package safety

import "os"

// fileIDOf is not available here: copies are found by content only.
func fileIDOf(fi os.FileInfo) (fileID, bool) { return fileID{}, false }
