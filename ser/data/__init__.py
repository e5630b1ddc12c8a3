"""EmoDB: its naming scheme and labels (`emodb`), its download (`download`) and the speaker split (`split`)."""
