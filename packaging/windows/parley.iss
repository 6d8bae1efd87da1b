; Inno Setup 6 script: Parley for Windows, a per-user install (no administrator rights needed).
;   iscc /DAppVersion=0.1.0 packaging\windows\parley.iss    ->  dist\Parley-0.1.0-windows-x64-setup.exe
; Input: the PyInstaller bundle dist\Parley (python -m PyInstaller packaging\parley.spec), which holds
; Parley.exe (the app, no console), parley-cli.exe (the command line, --version, --self-test) and
; _internal\ with Python, Qt and llama.cpp.
;
; Visual C++ runtime: vcruntime140.dll / msvcp140.dll come with Python and PySide6 inside the bundle,
; and packaging\parley.spec copies vcomp140.dll (the OpenMP runtime llama.cpp's CPU backend is
; linked against when built with MSVC) next to them, so the Microsoft VC++ Redistributable is not
; required. If a build machine has no vcomp140.dll, set VCOMP140_DLL before running PyInstaller, or
; build llama.cpp with -DGGML_OPENMP=OFF.
;
; User data: conversations, settings and models live in %LOCALAPPDATA%\Parley (platformdirs), not
; in the install folder; neither an upgrade nor the uninstaller touches them.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\Parley"
#endif

[Setup]
; Never change AppId: it is how upgrades and the uninstaller find an existing installation.
AppId={{DBFCA600-18FE-4014-B767-ECAE3DD6F858}
AppName=Parley
AppVersion={#AppVersion}
AppVerName=Parley {#AppVersion}
AppPublisher=Parley developers
DefaultDirName={autopf}\Parley
DefaultGroupName=Parley
DisableProgramGroupPage=yes
; Per-user by default ({autopf} = %LOCALAPPDATA%\Programs); an administrator may choose all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=Parley-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\icons\parley.ico
UninstallDisplayIcon={app}\Parley.exe
UninstallDisplayName=Parley
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes
ChangesEnvironment=no

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the program files wholesale, so no stale library from an older version stays.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Parley"; Filename: "{app}\Parley.exe"; Comment: "Chat with local language models"
Name: "{autodesktop}\Parley"; Filename: "{app}\Parley.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\Parley.exe"; Description: "{cm:LaunchProgram,Parley}"; Flags: nowait postinstall skipifsilent

; No [UninstallDelete] for user folders on purpose: %LOCALAPPDATA%\Parley is the user's data.
