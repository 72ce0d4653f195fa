; Inno Setup script: GGUF-Studio-Setup-<version>.exe from the PyInstaller folder dist\gguf-studio.
; Per-user install without admin rights; start-menu entry; uninstaller. Built by packaging\windows\build.ps1.
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6C4F1E7A-2B0D-4D3E-9A53-5E0B8C1F2A77}
AppName=GGUF Studio
AppVersion={#AppVersion}
AppPublisher=GGUF Studio developers
DefaultDirName={autopf}\GGUF Studio
DefaultGroupName=GGUF Studio
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
OutputDir=..\..\dist
OutputBaseFilename=GGUF-Studio-Setup-{#AppVersion}
SetupIconFile=gguf-studio.ico
UninstallDisplayIcon={app}\gguf-studio.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesInstallIn64BitMode=x64compatible

[Files]
Source: "..\..\dist\gguf-studio\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\GGUF Studio"; Filename: "{app}\gguf-studio.exe"
Name: "{group}\Uninstall GGUF Studio"; Filename: "{uninstallexe}"
Name: "{userdesktop}\GGUF Studio"; Filename: "{app}\gguf-studio.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\gguf-studio.exe"; Description: "Start GGUF Studio"; Flags: nowait postinstall skipifsilent
